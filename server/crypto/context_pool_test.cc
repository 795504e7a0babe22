#include "server/crypto/context_pool.h"

#include <openssl/evp.h>

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/crypto/operation.h"
#include "server/crypto/openssl_util.h"
#include "server/crypto/test_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

using testing::HasRv;

class ContextPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = AdoptPkey(EVP_EC_gen("P-256"));
    ASSERT_NE(key_, nullptr);
  }

  // One Use for `scheme` whose body returns `result`; counts the setups.
  absl::Status UseWith(const std::string& scheme, absl::Status result = absl::OkStatus()) {
    return pool_.Use(
        key_.get(), scheme,
        [this](EVP_PKEY_CTX* ctx) {
          ++setups_;
          return EVP_PKEY_sign_init(ctx) == 1 ? absl::OkStatus() : RvError(CKR_FUNCTION_FAILED);
        },
        [&](EVP_PKEY_CTX* ctx) {
          contexts_seen_.push_back(ctx);
          return result;
        });
  }

  MechanismParams Ecdsa() {
    MechanismParams params;
    params.type = CKM_ECDSA;
    return params;
  }

  EvpPkeyPtr key_;
  ContextPool pool_;
  int setups_ = 0;
  std::vector<EVP_PKEY_CTX*> contexts_seen_;
};

TEST_F(ContextPoolTest, ReusesAContextOncePerScheme) {
  ASSERT_TRUE(UseWith("sign").ok());
  ASSERT_TRUE(UseWith("sign").ok());
  EXPECT_EQ(setups_, 1);
  EXPECT_EQ(contexts_seen_[0], contexts_seen_[1]);
  ASSERT_TRUE(UseWith("other parameters").ok());
  EXPECT_EQ(setups_, 2) << "a context set up for one scheme served another";
}

TEST_F(ContextPoolTest, DropsAContextWhoseOperationFailed) {
  ASSERT_TRUE(UseWith("sign").ok());
  EXPECT_TRUE(HasRv(UseWith("sign", RvError(CKR_FUNCTION_FAILED)), CKR_FUNCTION_FAILED));
  ASSERT_TRUE(UseWith("sign").ok());
  EXPECT_EQ(setups_, 2) << "the context of a failed operation went back to the pool";
}

TEST_F(ContextPoolTest, WithoutAPoolEveryUseSetsUpAContext) {
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(WithContext(
                    nullptr, key_.get(), "sign",
                    [this](EVP_PKEY_CTX* ctx) {
                      ++setups_;
                      return EVP_PKEY_sign_init(ctx) == 1 ? absl::OkStatus() : RvError(CKR_FUNCTION_FAILED);
                    },
                    [](EVP_PKEY_CTX*) { return absl::OkStatus(); })
                    .ok());
  }
  EXPECT_EQ(setups_, 2);
}

// Signatures made through pooled contexts by several threads at once all
// verify, and a wrong one is still refused after good ones shared contexts.
TEST_F(ContextPoolTest, PooledSignaturesFromManyThreadsVerify) {
  auto contexts = std::make_shared<ContextPool>();
  const std::string hash(32, '\x5a');
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto sign = NewSignOperation(Ecdsa(), key_, "", contexts);
        auto verify = NewVerifyOperation(Ecdsa(), key_, "", contexts);
        if (!sign.ok() || !verify.ok()) {
          ++failures[t];
          continue;
        }
        absl::StatusOr<std::string> signature = (*sign)->SignOnce(hash);
        if (!signature.ok() || !(*verify)->VerifyOnce(hash, *signature).ok()) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;

  auto sign = NewSignOperation(Ecdsa(), key_, "", contexts);
  ASSERT_TRUE(sign.ok());
  absl::StatusOr<std::string> signature = (*sign)->SignOnce(hash);
  ASSERT_TRUE(signature.ok());
  std::string wrong = *signature;
  wrong[5] ^= 1;
  EXPECT_TRUE(HasRv((*NewVerifyOperation(Ecdsa(), key_, "", contexts))->VerifyOnce(hash, wrong),
                    CKR_SIGNATURE_INVALID));
  EXPECT_TRUE((*NewVerifyOperation(Ecdsa(), key_, "", contexts))->VerifyOnce(hash, *signature).ok());
}

// ECDSA draws a new nonce for every signature: a reused context must not
// keep one (the same nonce twice gives the private key away).
TEST_F(ContextPoolTest, AReusedEcdsaContextSignsWithANewNonceEachTime) {
  auto contexts = std::make_shared<ContextPool>();
  const std::string hash(32, '\x17');
  std::vector<std::string> signatures;
  for (int i = 0; i < 3; ++i) {
    auto sign = NewSignOperation(Ecdsa(), key_, "", contexts);
    ASSERT_TRUE(sign.ok());
    absl::StatusOr<std::string> signature = (*sign)->SignOnce(hash);
    ASSERT_TRUE(signature.ok());
    signatures.push_back(*signature);
  }
  const size_t half = signatures[0].size() / 2;  // r || s: r comes from the nonce alone
  EXPECT_NE(signatures[0].substr(0, half), signatures[1].substr(0, half));
  EXPECT_NE(signatures[1].substr(0, half), signatures[2].substr(0, half));
  EXPECT_NE(signatures[0].substr(0, half), signatures[2].substr(0, half));
}

}  // namespace
}  // namespace hsm::server::crypto
