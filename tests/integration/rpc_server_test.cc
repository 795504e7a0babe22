// hsmd's threading and its two faces (server/rpc_server.h, rpc_routes.cc):
// quick calls are served while a long call runs, and the admin API and the
// PKCS #11 API each answer only on their own socket.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "proto/hsm/v1/admin.grpc.pb.h"
#include "tests/integration/fixture.h"

namespace hsm::testing {
namespace {

class RpcServerTest : public FreshHsmdTest {
 protected:
  HsmdProcess::Options Options() override {
    HsmdProcess::Options options;
    // A C_Login that takes a good fraction of a second: the long call.
    options.extra_flags = {"--pin_kdf_iterations=2000000", "--rpc_threads=2"};
    return options;
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
