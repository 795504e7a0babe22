#include "client/init_cache.h"

#include "gtest/gtest.h"

namespace hsm::client {
namespace {

constexpr uint64_t kEpoch = 1, kSlot = 7, kKey = 42;

hsm::v1::KeyFacts TokenKey(std::optional<bool> always_authenticate = false) {
  hsm::v1::KeyFacts facts;
  facts.set_token_object(true);
  if (always_authenticate.has_value()) facts.set_always_authenticate(*always_authenticate);
  return facts;
}

TEST(InitCacheTest, DefersOnlyWhatSucceededOnATokenKeyWithTheSameMechanism) {
  InitCache cache;
  EXPECT_FALSE(cache.MayDefer(kEpoch, kSlot, kKey, OpKind::kSign, "m"));
  cache.Learn(cache.generation(), kEpoch, kSlot, kKey, OpKind::kSign, "m", TokenKey());
  EXPECT_TRUE(cache.MayDefer(kEpoch, kSlot, kKey, OpKind::kSign, "m"));
  EXPECT_FALSE(cache.MayDefer(kEpoch, kSlot, kKey, OpKind::kSign, "other parameters"));
  EXPECT_FALSE(cache.MayDefer(kEpoch, kSlot, kKey, OpKind::kDecrypt, "m"));
  EXPECT_FALSE(cache.MayDefer(kEpoch, kSlot, kKey + 1, OpKind::kSign, "m"));
  EXPECT_FALSE(cache.MayDefer(kEpoch, kSlot + 1, kKey, OpKind::kSign, "m"));
  EXPECT_FALSE(cache.MayDefer(kEpoch + 1, kSlot, kKey, OpKind::kSign, "m"));
  EXPECT_EQ(cache.AlwaysAuthenticate(kEpoch, kSlot, kKey), std::optional<bool>(false));
}

TEST(InitCacheTest, NeverSessionObjectsNorKeysThatNeedAContextLogin) {
  InitCache cache;
  hsm::v1::KeyFacts session_key = TokenKey();
  session_key.set_token_object(false);
  cache.Learn(cache.generation(), kEpoch, kSlot, kKey, OpKind::kSign, "m", session_key);
  EXPECT_FALSE(cache.MayDefer(kEpoch, kSlot, kKey, OpKind::kSign, "m"));
  EXPECT_EQ(cache.AlwaysAuthenticate(kEpoch, kSlot, kKey), std::nullopt);
  cache.Learn(cache.generation(), kEpoch, kSlot, kKey, OpKind::kSign, "m", TokenKey(true));
  EXPECT_FALSE(cache.MayDefer(kEpoch, kSlot, kKey, OpKind::kSign, "m"));
  // Digests have no key, and no facts.
  cache.Learn(cache.generation(), kEpoch, kSlot, 0, OpKind::kDigest, "sha", hsm::v1::KeyFacts());
  EXPECT_TRUE(cache.MayDefer(kEpoch, kSlot, 0, OpKind::kDigest, "sha"));
  // A public key has no CKA_ALWAYS_AUTHENTICATE: deferred, but not answered.
  cache.Learn(cache.generation(), kEpoch, kSlot, kKey + 1, OpKind::kVerify, "m", TokenKey(std::nullopt));
  EXPECT_TRUE(cache.MayDefer(kEpoch, kSlot, kKey + 1, OpKind::kVerify, "m"));
  EXPECT_EQ(cache.AlwaysAuthenticate(kEpoch, kSlot, kKey + 1), std::nullopt);
}

TEST(InitCacheTest, ForgettingAKeyLeavesTheOthers) {
  InitCache cache;
  for (uint64_t key : {kKey - 1, kKey, kKey + 1}) {
    for (OpKind kind : {OpKind::kEncrypt, OpKind::kSign, OpKind::kVerifyRecover}) {
      cache.Learn(cache.generation(), kEpoch, kSlot, key, kind, "m", TokenKey());
    }
  }
  cache.ForgetKey(kSlot, kKey);
  for (OpKind kind : {OpKind::kEncrypt, OpKind::kSign, OpKind::kVerifyRecover}) {
    EXPECT_FALSE(cache.MayDefer(kEpoch, kSlot, kKey, kind, "m"));
    EXPECT_TRUE(cache.MayDefer(kEpoch, kSlot, kKey - 1, kind, "m"));
    EXPECT_TRUE(cache.MayDefer(kEpoch, kSlot, kKey + 1, kind, "m"));
  }
  EXPECT_EQ(cache.AlwaysAuthenticate(kEpoch, kSlot, kKey), std::nullopt);
  cache.Clear();
  EXPECT_FALSE(cache.MayDefer(kEpoch, kSlot, kKey + 1, OpKind::kSign, "m"));
}

TEST(InitCacheTest, AChangeBlocksDeferralsAndLessonsTakenBeforeIt) {
  InitCache cache;
  cache.Learn(cache.generation(), kEpoch, kSlot, kKey, OpKind::kSign, "m", TokenKey());
  const uint64_t before = cache.generation();
  {
    InitCache::Change change(cache, kSlot, kKey + 1);  // another key
    EXPECT_FALSE(cache.MayDefer(kEpoch, kSlot, kKey, OpKind::kSign, "m"));
    EXPECT_EQ(cache.AlwaysAuthenticate(kEpoch, kSlot, kKey), std::nullopt);
    cache.Learn(cache.generation(), kEpoch, kSlot, kKey, OpKind::kVerify, "m", TokenKey());
  }
  EXPECT_TRUE(cache.MayDefer(kEpoch, kSlot, kKey, OpKind::kSign, "m"));
  EXPECT_FALSE(cache.MayDefer(kEpoch, kSlot, kKey, OpKind::kVerify, "m"));
  // An Init sent before the change: what it taught may be out of date.
  cache.Learn(before, kEpoch, kSlot, kKey, OpKind::kDecrypt, "m", TokenKey());
  EXPECT_FALSE(cache.MayDefer(kEpoch, kSlot, kKey, OpKind::kDecrypt, "m"));
  {
    InitCache::Change logout(cache);
  }
  EXPECT_FALSE(cache.MayDefer(kEpoch, kSlot, kKey, OpKind::kSign, "m"));
}

TEST(InitCacheTest, ANewRegistrationStartsAfresh) {
  InitCache cache;
  cache.Learn(cache.generation(), kEpoch, kSlot, kKey, OpKind::kSign, "m", TokenKey());
  cache.Learn(cache.generation(), kEpoch + 1, kSlot, kKey + 1, OpKind::kSign, "m", TokenKey());
  EXPECT_FALSE(cache.MayDefer(kEpoch + 1, kSlot, kKey, OpKind::kSign, "m"));
  EXPECT_TRUE(cache.MayDefer(kEpoch + 1, kSlot, kKey + 1, OpKind::kSign, "m"));
}

}  // namespace
}  // namespace hsm::client
