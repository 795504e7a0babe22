// hsmd's threading and its two faces (server/rpc_server.h, rpc_routes.cc):
// quick calls are served while a long call runs, and the admin API and the
// PKCS #11 API each answer only on their own socket.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <chrono>
#include <functional>
#include <future>
#include <thread>
#include <vector>

#include "proto/hsm/v1/admin.grpc.pb.h"
#include "tests/integration/fixture.h"

namespace hsm::testing {
namespace {

class RpcServerTest : public FreshHsmdTest {
 protected:
  HsmdProcess::Options Options() override {
    // A C_Login that takes a good fraction of a second: the long call.
    return HsmdProcess::WithFlags({"--pin_kdf_iterations=2000000", "--rpc_threads=2"});
  }
};

TEST_F(RpcServerTest, QuickCallsAreServedWhileALongCallRuns) {
  CK_SESSION_HANDLE login_session = Open();
  CK_SESSION_HANDLE random_session = Open();
  std::atomic<bool> login_done{false};
  CK_RV login_rv = CKR_GENERAL_ERROR;
  std::thread login([&] {
    login_rv = Login(login_session, CKU_USER, hsmd_->user_pin);
    login_done = true;
  });
  // Give the login time to reach hsmd's PIN check.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  int served_during_login = 0;
  CK_BYTE random[32];
  while (!login_done && served_during_login < 200) {
    ASSERT_THAT(f_->C_GenerateRandom(random_session, random, sizeof random), RvIs(CKR_OK));
    if (!login_done) ++served_during_login;
  }
  login.join();
  EXPECT_THAT(login_rv, RvIs(CKR_OK));
  EXPECT_GE(served_during_login, 20) << "C_GenerateRandom waited for a C_Login on another session";
}

// Runs `long_call` on three sessions at once, more long calls than
// --rpc_threads (2 here), and counts the random calls another session gets
// served before the first of them ends. The threads inside the long calls
// cannot poll, so hsmd starts another that can (server/rpc_server.h);
// without it, the random calls would wait until a long call ended.
int RandomCallsDuringThreeLongCalls(const CK_FUNCTION_LIST* f, const std::function<CK_SESSION_HANDLE()>& open,
                                    const std::function<CK_RV(CK_SESSION_HANDLE)>& long_call, CK_RV expected) {
  std::vector<CK_SESSION_HANDLE> sessions = {open(), open(), open()};
  CK_SESSION_HANDLE random_session = open();
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  std::vector<CK_RV> rvs(sessions.size(), CKR_GENERAL_ERROR);
  for (size_t i = 0; i < sessions.size(); ++i) {
    threads.emplace_back([&, i] {
      rvs[i] = long_call(sessions[i]);
      ++done;
    });
  }
  // Give the long calls time to reach hsmd.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  int served = 0;
  CK_BYTE random[32];
  while (done == 0 && served < 200) {
    EXPECT_THAT(f->C_GenerateRandom(random_session, random, sizeof random), RvIs(CKR_OK));
    if (done == 0) ++served;
  }
  for (std::thread& thread : threads) thread.join();
  for (CK_RV rv : rvs) EXPECT_THAT(rv, RvIs(expected));
  return served;
}

// Logins with a wrong PIN, each hashing it for a good fraction of a second.
TEST_F(RpcServerTest, QuickCallsAreServedWhileMoreLoginsRunThanThreads) {
  const int served = RandomCallsDuringThreeLongCalls(
      f_, [this] { return Open(); },
      [this](CK_SESSION_HANDLE session) { return Login(session, CKU_USER, "not the pin"); }, CKR_PIN_INCORRECT);
  EXPECT_GE(served, 20) << "C_GenerateRandom waited while every RPC thread was in a C_Login";
}

// RSA-4096 key generation, routed as any key generation (kMayBlock), says
// it is long from inside (LongCall, server/blocking.h).
TEST_F(RpcServerTest, QuickCallsAreServedWhileMoreRsaKeyGenerationsRunThanThreads) {
  const int served = RandomCallsDuringThreeLongCalls(
      f_, [this] { return Open(); },
      [this](CK_SESSION_HANDLE session) {
        CK_MECHANISM generate{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
        CK_ULONG bits = 4096;
        CK_BYTE exponent[] = {1, 0, 1};
        CK_BBOOL no = CK_FALSE;
        CK_ATTRIBUTE public_template[] = {{CKA_MODULUS_BITS, &bits, sizeof bits},
                                          {CKA_PUBLIC_EXPONENT, exponent, sizeof exponent},
                                          {CKA_TOKEN, &no, sizeof no}};
        // A session key that needs no login.
        CK_ATTRIBUTE private_template[] = {{CKA_TOKEN, &no, sizeof no}, {CKA_PRIVATE, &no, sizeof no}};
        CK_OBJECT_HANDLE public_key, private_key;
        return f_->C_GenerateKeyPair(session, &generate, public_template, 3, private_template, 2, &public_key,
                                     &private_key);
      },
      CKR_OK);
  EXPECT_GE(served, 20) << "C_GenerateRandom waited while every RPC thread generated an RSA key";
}

// Searches the indexes cannot narrow read every object they might match: by
// class alone among 10,000 objects of 200 attributes, about 0.1 s.
// Past ObjectStore::kLongSearchObjects a search says it is long (LongCall).
TEST_F(RpcServerTest, QuickCallsAreServedWhileMoreLongSearchesRunThanThreads) {
  constexpr int kObjects = 10000;
  CK_SESSION_HANDLE writer = CK_INVALID_HANDLE;
  ASSERT_THAT(f_->C_OpenSession(slot(), CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &writer),
              RvIs(CKR_OK));
  CK_OBJECT_CLASS data = CKO_DATA;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  std::vector<CK_ATTRIBUTE> object = {{CKA_CLASS, &data, sizeof data},
                                      {CKA_TOKEN, &yes, sizeof yes},
                                      {CKA_PRIVATE, &no, sizeof no}};
  std::vector<CK_ULONG> values(200);
  for (CK_ULONG i = 0; i < values.size(); ++i) {
    values[i] = i;
    object.push_back({CKA_VENDOR_DEFINED | (0x100 + i), &values[i], sizeof values[i]});
  }
  for (int i = 0; i < kObjects; ++i) {
    CK_OBJECT_HANDLE handle;
    ASSERT_THAT(f_->C_CreateObject(writer, object.data(), object.size(), &handle), RvIs(CKR_OK));
  }
  const auto started = std::chrono::steady_clock::now();
  const int served = RandomCallsDuringThreeLongCalls(
      f_, [this] { return Open(); },
      [this, &data](CK_SESSION_HANDLE session) {
        CK_ATTRIBUTE by_class = {CKA_CLASS, &data, sizeof data};
        CK_RV rv = f_->C_FindObjectsInit(session, &by_class, 1);
        if (rv != CKR_OK) return rv;
        std::vector<CK_OBJECT_HANDLE> found(kObjects + 1);
        CK_ULONG count = 0;
        rv = f_->C_FindObjects(session, found.data(), found.size(), &count);
        if (rv == CKR_OK && count != kObjects) rv = CKR_GENERAL_ERROR;
        CK_RV final_rv = f_->C_FindObjectsFinal(session);
        return rv != CKR_OK ? rv : final_rv;
      },
      CKR_OK);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  std::printf("three searches by class among %d objects: %lld ms, %d quick calls served meanwhile\n", kObjects,
              static_cast<long long>(took.count()), served);
  EXPECT_GE(served, 20) << "C_GenerateRandom waited while every RPC thread searched";
}

class SlowSignatureTest : public FreshHsmdTest {
 protected:
  HsmdProcess::Options Options() override {
    // No polling without sleeping: on 2 cores the polling thread would take the
    // core the random calls need while the other thread signs.
    return HsmdProcess::WithFlags({"--rpc_threads=2", "--poll_spin_us=0"});
  }

  // Signs with a new RSA-4096 key (a token or a session object) back to
  // back on one session for a second, while another session draws random
  // bytes. Returns the random calls served per signature.
  double RandomCallsPerSignature(bool token_key) {
    CK_SESSION_HANDLE signer = Open();
    CK_SESSION_HANDLE other = Open();
    EXPECT_THAT(Login(signer, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
    CK_MECHANISM generate{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    CK_ULONG bits = 4096;
    CK_BYTE exponent[] = {1, 0, 1};
    CK_BBOOL yes = CK_TRUE, token = token_key ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE public_template[] = {{CKA_MODULUS_BITS, &bits, sizeof bits},
                                      {CKA_PUBLIC_EXPONENT, exponent, sizeof exponent},
                                      {CKA_TOKEN, &token, sizeof token}};
    CK_ATTRIBUTE private_template[] = {{CKA_SIGN, &yes, sizeof yes}, {CKA_TOKEN, &token, sizeof token}};
    CK_OBJECT_HANDLE public_key, private_key;
    EXPECT_THAT(f_->C_GenerateKeyPair(signer, &generate, public_template, 3, private_template, 2, &public_key,
                                      &private_key),
                RvIs(CKR_OK));
    std::atomic<bool> stop{false};
    std::atomic<int> signatures{0};
    std::thread signing([&] {
      CK_MECHANISM sign{CKM_SHA256_RSA_PKCS, nullptr, 0};
      CK_BYTE data[] = "to be signed", signature[512];
      while (!stop) {
        CK_ULONG length = sizeof signature;
        if (f_->C_SignInit(signer, &sign, private_key) != CKR_OK ||
            f_->C_Sign(signer, data, sizeof data, signature, &length) != CKR_OK) {
          return;
        }
        ++signatures;
      }
    });
    while (signatures == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const int signatures_before = signatures;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    int randoms = 0;
    CK_BYTE random[32];
    while (std::chrono::steady_clock::now() < until) {
      EXPECT_THAT(f_->C_GenerateRandom(other, random, sizeof random), RvIs(CKR_OK));
      ++randoms;
    }
    const int signed_meanwhile = signatures - signatures_before;
    stop = true;
    signing.join();
    EXPECT_GT(signed_meanwhile, 0) << "the signing thread failed";
    std::printf("%d random calls during %d signatures\n", randoms, signed_meanwhile);
    return static_cast<double>(randoms) / std::max(signed_meanwhile, 1);
  }
};

// C_Sign is routed as a quick call; an RSA key makes it hand polling over
// from inside (server/blocking.h), so a signer does not hold up others.
// Waiting behind each signature, about one random call would fit in it;
// served by the other thread, many (a token key's signature takes ms).
TEST_F(SlowSignatureTest, CallsAreServedWhileRsaSignaturesRun) {
  EXPECT_GE(RandomCallsPerSignature(/*token_key=*/true), 5.0)
      << "C_GenerateRandom waited for RSA signatures of another session";
}

// A session key is built from its attributes at every C_SignInit (only
// token keys are cached): that also runs on another thread than the poller.
TEST_F(SlowSignatureTest, CallsAreServedWhileSessionKeysSign) {
  EXPECT_GE(RandomCallsPerSignature(/*token_key=*/false), 5.0)
      << "C_GenerateRandom waited for another session's key or signature";
}

TEST_F(RpcServerTest, TheAdminApiIsRefusedOnTheNetworkPort) {
  auto admin_over_tcp =
      v1::Admin::NewStub(grpc::CreateChannel(hsmd_->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::ServerStatusRequest request;
  v1::ServerStatusReply reply;
  grpc::Status status = admin_over_tcp->ServerStatus(&context, request, &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();

  auto admin = v1::Admin::NewStub(
      grpc::CreateChannel("unix:" + hsmd_->admin_socket(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext admin_context;
  status = admin->ServerStatus(&admin_context, request, &reply);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(RpcServerTest, ThePkcs11ApiIsRefusedOnTheAdminSocket) {
  // A generic stub: the PKCS #11 messages are already in this process's
  // protobuf registry, from the client library.
  grpc::GenericStub pkcs11_over_admin(
      grpc::CreateChannel("unix:" + hsmd_->admin_socket(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  grpc::Slice no_fields("");  // an InitializeRequest with every field at its default
  grpc::ByteBuffer empty_request(&no_fields, 1), reply;
  std::promise<grpc::Status> done;
  pkcs11_over_admin.UnaryCall(&context, "/hsm.v1.Pkcs11/Initialize", grpc::StubOptions(), &empty_request, &reply,
                              [&done](grpc::Status status) { done.set_value(status); });
  grpc::Status status = done.get_future().get();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
}

}  // namespace
}  // namespace hsm::testing
