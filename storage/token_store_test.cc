#include "storage/token_store.h"

#include "gtest/gtest.h"
#include "storage/test_dir.h"

namespace hsm::storage {
namespace {

TEST(TokenStoreTest, TenantsAreUniqueByName) {
  auto env = LmdbEnv::Open(MakeTestDir("tok"));
  auto store = TokenStore::Open(env->get());
  ASSERT_TRUE(store.ok());
  auto a = (*store)->CreateTenant("a");
  ASSERT_TRUE(a.ok());
  auto b = (*store)->CreateTenant("b");
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a->id(), b->id());
  EXPECT_EQ((*store)->CreateTenant("a").status().code(), absl::StatusCode::kAlreadyExists);
  auto found = (*store)->FindTenant("b");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id(), b->id());
  EXPECT_FALSE((*store)->FindTenant("c")->has_value());
}

TEST(TokenStoreTest, SlotIdsAreSequentialPerTenantAndSurviveReopen) {
  std::string dir = MakeTestDir("tok");
  uint64_t tenant_id;
  {
    auto env = LmdbEnv::Open(dir);
    auto store = TokenStore::Open(env->get());
    tenant_id = (*store)->CreateTenant("t")->id();
    auto other = (*store)->CreateTenant("other")->id();
    Token token;
    token.set_tenant_id(tenant_id);
    token.set_label("first");
    EXPECT_EQ((*store)->CreateToken(token)->slot_id(), 1u);
    token.set_label("second");
    EXPECT_EQ((*store)->CreateToken(token)->slot_id(), 2u);
    token.set_tenant_id(other);
    EXPECT_EQ((*store)->CreateToken(token)->slot_id(), 1u);
  }
  auto env = LmdbEnv::Open(dir);
  auto store = TokenStore::Open(env->get());
  auto tokens = (*store)->ListTokens(tenant_id);
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 2u);
  EXPECT_EQ((*tokens)[0].label(), "first");
  EXPECT_EQ((*tokens)[1].label(), "second");
  EXPECT_EQ((*tokens)[1].slot_id(), 2u);
}

TEST(TokenStoreTest, UpdateChangesOneTokenAndAbortsOnError) {
  auto env = LmdbEnv::Open(MakeTestDir("tok"));
  auto store = TokenStore::Open(env->get());
  uint64_t tenant_id = (*store)->CreateTenant("t")->id();
  Token token;
  token.set_tenant_id(tenant_id);
  token.set_label("old");
  uint64_t slot = (*store)->CreateToken(token)->slot_id();
  ASSERT_TRUE((*store)->UpdateToken(tenant_id, slot, [](Token& t) {
    t.set_label("new");
    return absl::OkStatus();
  }).ok());
  EXPECT_EQ((*(*store)->GetToken(tenant_id, slot))->label(), "new");
  EXPECT_FALSE((*store)->UpdateToken(tenant_id, slot, [](Token& t) {
    t.set_label("lost");
    return absl::PermissionDeniedError("no");
  }).ok());
  EXPECT_EQ((*(*store)->GetToken(tenant_id, slot))->label(), "new");
  EXPECT_EQ((*store)->UpdateToken(tenant_id, 99, [](Token&) { return absl::OkStatus(); }).code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE((*(*store)->GetToken(tenant_id, 99)).has_value());
}

}  // namespace
}  // namespace hsm::storage
