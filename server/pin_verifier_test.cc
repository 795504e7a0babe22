#include "server/pin_verifier.h"

#include "gtest/gtest.h"

namespace hsm::server {
namespace {

TEST(PinVerifierTest, MatchesOnlyThePin) {
  auto verifier = MakePinVerifier("1234-secret", 1000);
  ASSERT_TRUE(verifier.ok());
  EXPECT_TRUE(PinMatches("1234-secret", *verifier));
  EXPECT_FALSE(PinMatches("1234-secreT", *verifier));
  EXPECT_FALSE(PinMatches("", *verifier));
  EXPECT_EQ(verifier->hash().find("1234-secret"), std::string::npos);
}

TEST(PinVerifierTest, SaltsDiffer) {
  auto a = MakePinVerifier("same", 1000);
  auto b = MakePinVerifier("same", 1000);
  EXPECT_NE(a->salt(), b->salt());
  EXPECT_NE(a->hash(), b->hash());
}

TEST(PinVerifierTest, DamagedVerifierMatchesNothing) {
  auto verifier = MakePinVerifier("pin", 1000);
  storage::PinVerifier damaged = *verifier;
  damaged.set_algorithm("md5");
  EXPECT_FALSE(PinMatches("pin", damaged));
  damaged = *verifier;
  damaged.mutable_hash()->resize(5);
  EXPECT_FALSE(PinMatches("pin", damaged));
}

}  // namespace
}  // namespace hsm::server
