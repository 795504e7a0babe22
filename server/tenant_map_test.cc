#include "server/tenant_map.h"

#include "gtest/gtest.h"

namespace hsm::server {
namespace {

TEST(TenantMapTest, MapsIdentitiesAndRevokes) {
  auto map = TenantMap::Parse(
      "# comment\n"
      "tenant ca-east spiffe://pki.example/ca-east\n"
      "tenant kra CN=kra.example.com,O=Example   # subject\n"
      "revoke 0a:7f:09\n",
      "tenants");
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->TenantFor({"DNS:other", "spiffe://pki.example/ca-east"}), "ca-east");
  EXPECT_EQ(map->TenantFor({"CN=kra.example.com,O=Example"}), "kra");
  EXPECT_FALSE(map->TenantFor({"CN=nobody"}).has_value());
  EXPECT_TRUE(map->IsRevoked("A7F09"));
  EXPECT_TRUE(map->IsRevoked("000a7f09"));
  EXPECT_FALSE(map->IsRevoked("A7F0A"));
}

TEST(TenantMapTest, ErrorsNameTheLine) {
  auto bad = TenantMap::Parse("tenant onlyname\n", "tenants");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("tenants:1"), std::string::npos);
  EXPECT_FALSE(TenantMap::Parse("revoke xyz\n", "t").ok());
  EXPECT_FALSE(TenantMap::Parse("allow everyone\n", "t").ok());
}

}  // namespace
}  // namespace hsm::server
