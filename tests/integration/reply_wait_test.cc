// How the library waits for hsmd's replies (client/reply_wait.h): it polls
// for a while, unless hsmd says its slow computations leave it a core at
// most (DataReply.cores_busy); then data calls sleep. The library says so in its
// debug messages, which these tests read.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/fixture.h"
#include "tests/integration/template_builder.h"

namespace hsm::testing {
namespace {

// Before the library's first message: it reads the variable once.
const bool kDebugMessages = setenv("HSM_PKCS11_DEBUG", "1", 1) == 0;
constexpr char kSleeping[] = "hsmd's slow computations leave it a core at most: data calls sleep while they wait";

const int kCores = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));

class ReplyWaitTest : public FreshHsmdTest {
 protected:
  HsmdProcess::Options Options() override {
    // A thread for every signer, and one to poll.
    return HsmdProcess::WithFlags({"--rpc_threads=" + std::to_string(kCores + 1)});
  }

  // A token key pair made with `mechanism` from `public_template`; returns
  // the private key, which can sign.
  CK_OBJECT_HANDLE SigningKey(CK_SESSION_HANDLE session, CK_MECHANISM_TYPE mechanism, Tmpl public_template) {
    CK_MECHANISM generate{mechanism, nullptr, 0};
    public_template.Bool(CKA_TOKEN, true);
    Tmpl private_template = Tmpl().Bool(CKA_SIGN, true).Bool(CKA_TOKEN, true);
    CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE, private_key = CK_INVALID_HANDLE;
    EXPECT_THAT(f_->C_GenerateKeyPair(session, &generate, public_template.data(), public_template.size(),
                                      private_template.data(), private_template.size(), &public_key, &private_key),
                RvIs(CKR_OK));
    return private_key;
  }
  CK_OBJECT_HANDLE RsaSigningKey(CK_SESSION_HANDLE session, CK_ULONG bits) {
    return SigningKey(session, CKM_RSA_PKCS_KEY_PAIR_GEN,
                      Tmpl().Ulong(CKA_MODULUS_BITS, bits).Bytes(CKA_PUBLIC_EXPONENT, std::string("\x01\x00\x01", 3)));
  }
  CK_OBJECT_HANDLE P256SigningKey(CK_SESSION_HANDLE session) {
    // The DER of the OID 1.2.840.10045.3.1.7.
    return SigningKey(session, CKM_EC_KEY_PAIR_GEN,
                      Tmpl().Bytes(CKA_EC_PARAMS, std::string("\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10)));
  }

  // `threads` threads sign 32 bytes with `key` and `mechanism` back to back,
  // each on its own session, for `duration`; returns the library's messages
  // meanwhile.
  std::string SignFromThreads(CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE mechanism, int threads,
                              std::chrono::milliseconds duration) {
    std::vector<CK_SESSION_HANDLE> sessions;
    for (int i = 0; i < threads; ++i) sessions.push_back(Open());
    std::atomic<int> failures{0}, signatures{0};
    ::testing::internal::CaptureStderr();
    const auto until = std::chrono::steady_clock::now() + duration;
    std::vector<std::thread> signers;
    for (CK_SESSION_HANDLE session : sessions) {
      signers.emplace_back([&, session] {
        CK_MECHANISM sign{mechanism, nullptr, 0};
        CK_BYTE data[32] = {1, 2, 3}, signature[512];
        while (std::chrono::steady_clock::now() < until) {
          CK_ULONG length = sizeof signature;
          if (f_->C_SignInit(session, &sign, key) != CKR_OK ||
              f_->C_Sign(session, data, sizeof data, signature, &length) != CKR_OK) {
            ++failures;
            return;
          }
          ++signatures;
        }
      });
    }
    for (std::thread& signer : signers) signer.join();
    std::string messages = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(failures, 0);
    EXPECT_GT(signatures, 0);
    return messages;
  }
};

// RSA-4096 signatures on all cores but one leave hsmd a core at most: hsmd
// says so, and the library stops polling.
TEST_F(ReplyWaitTest, DataCallsSleepWhileHsmdsComputationsLeaveACoreAtMost) {
  CK_SESSION_HANDLE session = Open();
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  CK_OBJECT_HANDLE key = RsaSigningKey(session, 4096);
  const std::string messages =
      SignFromThreads(key, CKM_SHA256_RSA_PKCS, std::max(1, kCores - 1), std::chrono::milliseconds(1500));
  EXPECT_NE(messages.find(kSleeping), std::string::npos) << messages;
}

// ECDSA on P-256 is quick (no hand-off of polling): however busy the signer,
// hsmd never tells the library to stop polling.
TEST_F(ReplyWaitTest, QuickSignaturesKeepPolling) {
  CK_SESSION_HANDLE session = Open();
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  CK_OBJECT_HANDLE key = P256SigningKey(session);
  const std::string messages = SignFromThreads(key, CKM_ECDSA, kCores, std::chrono::milliseconds(500));
  EXPECT_EQ(messages.find(kSleeping), std::string::npos) << messages;
}

// reply_spin_us = 0: every call sleeps for its reply, and all still work.
TEST_F(ReplyWaitTest, WithoutPollingCallsStillComplete) {
  f_->C_Finalize(nullptr);
  setenv("HSM_REPLY_SPIN_US", "0", 1);
  ASSERT_THAT(f_->C_Initialize(nullptr), RvIs(CKR_OK));
  unsetenv("HSM_REPLY_SPIN_US");
  CK_SESSION_HANDLE session = Open();
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  CK_OBJECT_HANDLE key = RsaSigningKey(session, 2048);
  SignFromThreads(key, CKM_SHA256_RSA_PKCS, 2, std::chrono::milliseconds(300));
  CK_BYTE random[32];
  for (int i = 0; i < 100; ++i) ASSERT_THAT(f_->C_GenerateRandom(session, random, sizeof random), RvIs(CKR_OK));
}

}  // namespace
}  // namespace hsm::testing
