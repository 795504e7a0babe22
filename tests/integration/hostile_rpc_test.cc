// hsmd against a hostile or buggy client: requests sent straight to its gRPC
// API (proto/hsm/v1/pkcs11.proto) with the generated stub, without the checks
// of the client library. Unknown applications, another application's
// handles, handles that never existed, absurd lengths and counts, malformed
// mechanism parameters and templates, bytes that are not a protobuf: each
// must end in a precise gRPC status or CK_RV, and hsmd must go on serving
// (every test ends by checking that it does, in TearDown).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <future>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/hsm/v1/pkcs11.grpc.pb.h"
#include "storage/object_store.h"
#include "tests/testing/hsmd_process.h"
#include "tests/testing/rv.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Stub = v1::Pkcs11::Stub;
using Attributes = std::vector<v1::Attribute>;
using storage::MakeBool;
using storage::MakeBytes;
using storage::MakeUlong;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
// Session objects' handles start here, above every token object's id
// (server/application.h).
constexpr uint64_t kFirstSessionObject = uint64_t{1} << 32;
// What RvOf returns when the call did not reach hsmd's PKCS #11 code.
constexpr CK_RV kNoReply = ~CK_RV{0};
// Long enough for any call on a loaded 2-core machine: a call that hangs
// fails its test instead of stalling it.
constexpr auto kDeadline = std::chrono::seconds(20);
// An ordinary call after a hostile one must be answered within this.
constexpr auto kQuickly = std::chrono::seconds(5);

// SHA-256("abc"), FIPS 180-2 appendix B.1.
const char kSha256Abc[] =
    "\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde\x5d\xae\x22\x23"
    "\xb0\x03\x61\xa3\x96\x17\x7a\x9c\xb4\x10\xff\x61\xf2\x00\x15\xad";
// The DER OID of P-256, CKA_EC_PARAMS.
const char kP256[] = "\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07";

// A session data object labelled `label`, visible without a login.
Attributes DataObject(const std::string& label) {
  return {MakeUlong(CKA_CLASS, CKO_DATA), MakeBool(CKA_TOKEN, false), MakeBytes(CKA_LABEL, label)};
}

v1::Mechanism Mechanism(uint64_t type) {
  v1::Mechanism mechanism;
  mechanism.set_type(type);
  return mechanism;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

template <typename Request, typename Reply>
using Method = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&, Reply*);

// One hsmd for the suite, and a fresh application with one read-write
// session for each test.
class HostileRpcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { hsmd_ = HsmdProcess::Start().release(); }
  static void TearDownTestSuite() {
    delete hsmd_;
    hsmd_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(hsmd_, nullptr);
    grpc::ChannelArguments arguments;
    arguments.SetMaxReceiveMessageSize(32 << 20);  // replies as large as hsmd takes requests
    channel_ = grpc::CreateCustomChannel(hsmd_->address(), grpc::InsecureChannelCredentials(), arguments);
    stub_ = v1::Pkcs11::NewStub(channel_);
    app_ = Register();
    ASSERT_NE(app_, 0u);
    session_ = OpenSession(app_);
    ASSERT_NE(session_, 0u);
  }

  void TearDown() override {
    if (hsmd_ == nullptr || app_ == 0) return;
    // Whatever the test sent, hsmd is alive and answers an ordinary call.
    ExpectServes(app_, session_);
    v1::AppRequest finalize;
    finalize.set_app(app_);
    EXPECT_THAT(RvOf(&Stub::Finalize, finalize), RvIs(CKR_OK));
    // No PIN ever reaches hsmd's log, whatever the test sent with it.
    const std::string log = hsmd_->Log();
    EXPECT_THAT(log, Not(HasSubstr(hsmd_->user_pin)));
    EXPECT_THAT(log, Not(HasSubstr(hsmd_->so_pin)));
  }

  // A request of application `app` and session `session`, the fields every
  // session call starts with.
  template <typename Request>
  static Request Addressed(uint64_t app, uint64_t session) {
    Request request;
    request.set_app(app);
    request.set_session(session);
    return request;
  }

  // Calls `method` (&Stub::GenerateRandom ...) with a deadline.
  template <typename Request, typename Reply>
  grpc::Status Call(Method<Request, Reply> method, const Request& request, Reply* reply,
                    std::chrono::seconds deadline = kDeadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    return (stub_.get()->*method)(&context, request, reply);
  }

  // The CK_RV of a call that must reach hsmd's PKCS #11 code (gRPC OK).
  template <typename Request, typename Reply>
  CK_RV RvOf(Method<Request, Reply> method, const Request& request, Reply* reply) {
    grpc::Status status = Call(method, request, reply);
    EXPECT_TRUE(status.ok()) << "gRPC status " << status.error_code() << ": " << status.error_message();
    return status.ok() ? reply->rv() : kNoReply;
  }
  template <typename Request, typename Reply>
  CK_RV RvOf(Method<Request, Reply> method, const Request& request) {
    Reply reply;
    return RvOf(method, request, &reply);
  }

  uint64_t Register() {
    v1::InitializeRequest request;
    request.set_pid(1);
    request.set_hostname("hostile_rpc_test");
    v1::InitializeReply reply;
    if (RvOf(&Stub::Initialize, request, &reply) != CKR_OK) return 0;
    return reply.app();
  }

  uint64_t OpenSession(uint64_t app) {
    v1::OpenSessionRequest request;
    request.set_app(app);
    request.set_slot_id(hsmd_->slot_id);
    request.set_flags(CKF_SERIAL_SESSION | CKF_RW_SESSION);
    v1::OpenSessionReply reply;
    EXPECT_THAT(RvOf(&Stub::OpenSession, request, &reply), RvIs(CKR_OK));
    return reply.session();
  }

  CK_RV Login(uint64_t app, uint64_t session, const std::string& pin) {
    auto request = Addressed<v1::LoginRequest>(app, session);
    request.set_user_type(CKU_USER);
    request.set_pin(pin);
    return RvOf(&Stub::Login, request);
  }

  v1::GenerateRandomRequest RandomRequest(uint64_t app, uint64_t session, uint64_t length) {
    auto request = Addressed<v1::GenerateRandomRequest>(app, session);
    request.set_length(length);
    return request;
  }

  // GenerateRandom answers on `session`, quickly, with the bytes asked for.
  void ExpectServes(uint64_t app, uint64_t session) {
    v1::DataReply reply;
    grpc::Status status = Call(&Stub::GenerateRandom, RandomRequest(app, session, 32), &reply, kQuickly);
    ASSERT_TRUE(status.ok()) << "hsmd does not answer: " << status.error_code() << " " << status.error_message();
    EXPECT_THAT(reply.rv(), RvIs(CKR_OK));
    EXPECT_EQ(reply.length(), 32u);
    EXPECT_EQ(reply.data().size(), 32u);
  }

  CK_RV CreateObject(uint64_t app, uint64_t session, const Attributes& attributes, uint64_t* handle = nullptr) {
    auto request = Addressed<v1::CreateObjectRequest>(app, session);
    for (const v1::Attribute& attribute : attributes) *request.add_template_() = attribute;
    v1::ObjectReply reply;
    const CK_RV rv = RvOf(&Stub::CreateObject, request, &reply);
    if (handle != nullptr) *handle = reply.object();
    return rv;
  }

  // CreateObject of a session data object labelled `label`, with `extra`, on
  // this test's session: the gRPC status, for requests too large or too deep
  // to reach hsmd's PKCS #11 code.
  grpc::Status CreateDataObjectStatus(const std::string& label, v1::Attribute extra) {
    auto request = Addressed<v1::CreateObjectRequest>(app_, session_);
    for (const v1::Attribute& attribute : DataObject(label)) *request.add_template_() = attribute;
    *request.add_template_() = std::move(extra);
    v1::ObjectReply reply;
    return Call(&Stub::CreateObject, request, &reply);
  }

  CK_RV DestroyObject(uint64_t app, uint64_t session, uint64_t object) {
    auto request = Addressed<v1::ObjectRequest>(app, session);
    request.set_object(object);
    return RvOf(&Stub::DestroyObject, request);
  }

  // GetAttributeValue of one attribute with `output`; the reply's rv.
  CK_RV GetAttribute(uint64_t app, uint64_t session, uint64_t object, uint64_t type, const v1::OutputSpec& output,
                     v1::AttributeResult* result) {
    auto request = Addressed<v1::GetAttributeValueRequest>(app, session);
    request.set_object(object);
    v1::AttributeQuery* query = request.add_queries();
    query->set_type(type);
    *query->mutable_output() = output;
    v1::GetAttributeValueReply reply;
    const CK_RV rv = RvOf(&Stub::GetAttributeValue, request, &reply);
    if (reply.results_size() == 1) *result = reply.results(0);
    return rv;
  }

  // The object's bytes attribute `type`, read with room to spare ("" if it
  // cannot be read).
  std::string ReadBytes(uint64_t app, uint64_t session, uint64_t object, uint64_t type) {
    v1::OutputSpec output;
    output.set_buffer_len(kMax);
    v1::AttributeResult result;
    if (GetAttribute(app, session, object, type, output, &result) != CKR_OK || result.rv() != CKR_OK) return "";
    return result.attribute().bytes();
  }

  // A session secret key from `mechanism` (CKM_AES_KEY_GEN ...) of `length`
  // bytes, usable without a login; 0 if hsmd refuses.
  uint64_t SecretKey(uint64_t app, uint64_t session, uint64_t mechanism, uint64_t length,
                     const Attributes& extra = {}) {
    auto request = Addressed<v1::GenerateKeyRequest>(app, session);
    *request.mutable_mechanism() = Mechanism(mechanism);
    for (const v1::Attribute& attribute :
         Attributes{MakeBool(CKA_TOKEN, false), MakeBool(CKA_PRIVATE, false), MakeUlong(CKA_VALUE_LEN, length)}) {
      *request.add_template_() = attribute;
    }
    for (const v1::Attribute& attribute : extra) *request.add_template_() = attribute;
    v1::ObjectReply reply;
    EXPECT_THAT(RvOf(&Stub::GenerateKey, request, &reply), RvIs(CKR_OK));
    return reply.object();
  }

  // A session key pair usable without a login; false if hsmd refuses.
  bool KeyPair(uint64_t mechanism, const Attributes& public_template, const Attributes& private_template,
               uint64_t* public_key, uint64_t* private_key) {
    auto request = Addressed<v1::GenerateKeyPairRequest>(app_, session_);
    *request.mutable_mechanism() = Mechanism(mechanism);
    *request.add_public_template() = MakeBool(CKA_TOKEN, false);
    for (const v1::Attribute& attribute : public_template) *request.add_public_template() = attribute;
    *request.add_private_template() = MakeBool(CKA_TOKEN, false);
    *request.add_private_template() = MakeBool(CKA_PRIVATE, false);
    for (const v1::Attribute& attribute : private_template) *request.add_private_template() = attribute;
    v1::GenerateKeyPairReply reply;
    if (RvOf(&Stub::GenerateKeyPair, request, &reply) != CKR_OK) return false;
    *public_key = reply.public_key();
    *private_key = reply.private_key();
    return true;
  }

  v1::OperationInitRequest InitRequest(const v1::Mechanism& mechanism, uint64_t key) {
    auto request = Addressed<v1::OperationInitRequest>(app_, session_);
    *request.mutable_mechanism() = mechanism;
    request.set_key(key);
    return request;
  }

  v1::DataRequest DataRequest(const std::string& data, uint64_t buffer_len) {
    auto request = Addressed<v1::DataRequest>(app_, session_);
    request.set_data(data);
    request.mutable_output()->set_buffer_len(buffer_len);
    return request;
  }

  // Sends `bytes` as the request of `method` ("/hsm.v1.Pkcs11/Login"), as
  // they are: the generic stub does not parse them.
  grpc::Status SendBytes(const std::string& method, const std::string& bytes) {
    grpc::GenericStub generic(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kDeadline);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), reply;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&context, method, grpc::StubOptions(), &request, &reply,
                      [&done](grpc::Status status) { done.set_value(status); });
    return done.get_future().get();
  }

  static HsmdProcess* hsmd_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;
  uint64_t app_ = 0;
  uint64_t session_ = 0;
};

HsmdProcess* HostileRpcTest::hsmd_ = nullptr;

// ---------------------------------------------------------------- 1. applications

void ExpectUnknownApplication(const grpc::Status& status) {
  // The proto's rule: the client library registers again on this status.
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_EQ(status.error_message(), "unknown application");
}

TEST_F(HostileRpcTest, UnknownApplicationsAreRefused) {
  const uint64_t finalized = Register();
  ASSERT_NE(finalized, 0u);
  v1::AppRequest finalize;
  finalize.set_app(finalized);
  ASSERT_THAT(RvOf(&Stub::Finalize, finalize), RvIs(CKR_OK));
  // Application ids are random 64-bit numbers (0 never): the made-up ones
  // here are nobody's.
  for (uint64_t app : {uint64_t{0}, app_ ^ 0x5555555555555555u, kMax, finalized}) {
    SCOPED_TRACE(app);
    v1::DataReply random;
    ExpectUnknownApplication(Call(&Stub::GenerateRandom, RandomRequest(app, session_, 16), &random));
    EXPECT_THAT(random.data(), IsEmpty());
    v1::OpenSessionRequest open;
    open.set_app(app);
    open.set_slot_id(hsmd_->slot_id);
    open.set_flags(CKF_SERIAL_SESSION);
    v1::OpenSessionReply opened;
    ExpectUnknownApplication(Call(&Stub::OpenSession, open, &opened));
    v1::AppRequest heartbeat;
    heartbeat.set_app(app);
    v1::StatusReply status;
    ExpectUnknownApplication(Call(&Stub::Heartbeat, heartbeat, &status));
    ExpectUnknownApplication(Call(&Stub::Finalize, heartbeat, &status));
    // The right PIN under a wrong application logs nobody in.
    auto login = Addressed<v1::LoginRequest>(app, session_);
    login.set_user_type(CKU_USER);
    login.set_pin(hsmd_->user_pin);
    grpc::Status refused = Call(&Stub::Login, login, &status);
    ExpectUnknownApplication(refused);
    EXPECT_THAT(refused.error_message(), Not(HasSubstr(hsmd_->user_pin)));
    auto create = Addressed<v1::CreateObjectRequest>(app, session_);
    for (const v1::Attribute& attribute : DataObject("unknown application")) *create.add_template_() = attribute;
    v1::ObjectReply created;
    ExpectUnknownApplication(Call(&Stub::CreateObject, create, &created));
    EXPECT_EQ(created.object(), 0u);
  }
  auto info = Addressed<v1::SessionRequest>(app_, session_);
  v1::GetSessionInfoReply session_info;
  ASSERT_THAT(RvOf(&Stub::GetSessionInfo, info, &session_info), RvIs(CKR_OK));
  EXPECT_EQ(session_info.state(), CKS_RW_PUBLIC_SESSION) << "a Login under an unknown application logged this one in";
}

// Initialize is the one call without an application: what the caller says
// of itself is only recorded, whatever its size.
TEST_F(HostileRpcTest, InitializeTakesAnyCallerDescription) {
  v1::InitializeRequest request;
  request.set_pid(kMax);
  request.set_hostname(std::string(1 << 20, 'h'));
  request.mutable_library_version()->set_major(std::numeric_limits<uint32_t>::max());
  v1::InitializeReply reply;
  ASSERT_THAT(RvOf(&Stub::Initialize, request, &reply), RvIs(CKR_OK));
  ASSERT_NE(reply.app(), 0u);
  EXPECT_NE(reply.app(), app_);
  const uint64_t session = OpenSession(reply.app());
  ExpectServes(reply.app(), session);
  v1::AppRequest finalize;
  finalize.set_app(reply.app());
  EXPECT_THAT(RvOf(&Stub::Finalize, finalize), RvIs(CKR_OK));
}

// ---------------------------------------------------------------- 2. isolation

TEST_F(HostileRpcTest, AnotherApplicationsSessionsAndObjectsAreInvalid) {
  // A (this test's application) has sessions 1, 2, 3; B has 1 of its own.
  // Session ids count per application, so B tries those it does not have.
  const uint64_t a_second = OpenSession(app_), a_third = OpenSession(app_);
  const uint64_t b = Register();
  ASSERT_NE(b, 0u);
  const uint64_t b_session = OpenSession(b);
  ASSERT_NE(b_session, a_second);
  ASSERT_NE(b_session, a_third);
  // A's objects: a session object, a session key, and a private token object
  // (A logs in; B does not).
  uint64_t a_object = 0, a_private = 0;
  ASSERT_THAT(CreateObject(app_, session_, DataObject("A's object"), &a_object), RvIs(CKR_OK));
  const uint64_t a_key = SecretKey(app_, session_, CKM_AES_KEY_GEN, 32);
  ASSERT_NE(a_key, 0u);
  ASSERT_THAT(Login(app_, session_, hsmd_->user_pin), RvIs(CKR_OK));
  ASSERT_THAT(CreateObject(app_, session_,
                           {MakeUlong(CKA_CLASS, CKO_DATA), MakeBool(CKA_TOKEN, true), MakeBool(CKA_PRIVATE, true),
                            MakeBytes(CKA_LABEL, "A's private token object")},
                           &a_private),
              RvIs(CKR_OK));

  for (uint64_t a_session : {a_second, a_third}) {
    SCOPED_TRACE(a_session);
    EXPECT_THAT(RvOf(&Stub::GenerateRandom, RandomRequest(b, a_session, 16)), RvIs(CKR_SESSION_HANDLE_INVALID));
    auto session = Addressed<v1::SessionRequest>(b, a_session);
    EXPECT_THAT(RvOf(&Stub::GetSessionInfo, session), RvIs(CKR_SESSION_HANDLE_INVALID));
    EXPECT_THAT(Login(b, a_session, hsmd_->user_pin), RvIs(CKR_SESSION_HANDLE_INVALID));
    EXPECT_THAT(RvOf(&Stub::CloseSession, session), RvIs(CKR_SESSION_HANDLE_INVALID));
    v1::OperationInitRequest init = InitRequest(Mechanism(CKM_AES_ECB), a_key);
    init.set_app(b);
    init.set_session(a_session);
    EXPECT_THAT(RvOf(&Stub::EncryptInit, init), RvIs(CKR_SESSION_HANDLE_INVALID));
    // A data call's carried Init names a session that is not read: the
    // call's own session counts.
    auto digest = Addressed<v1::DataRequest>(b, a_session);
    digest.set_data("abc");
    digest.mutable_output()->set_buffer_len(kMax);
    *digest.mutable_init() = InitRequest(Mechanism(CKM_SHA256), 0);
    digest.mutable_init()->set_app(app_);
    EXPECT_THAT(RvOf(&Stub::Digest, digest), RvIs(CKR_SESSION_HANDLE_INVALID));
  }

  // A's handles on B's own session on the same token.
  v1::AttributeResult result;
  v1::OutputSpec output;
  output.set_buffer_len(kMax);
  for (uint64_t a_handle : {a_object, a_private, a_key}) {
    SCOPED_TRACE(a_handle);
    EXPECT_THAT(GetAttribute(b, b_session, a_handle, CKA_LABEL, output, &result), RvIs(CKR_OBJECT_HANDLE_INVALID));
    EXPECT_THAT(DestroyObject(b, b_session, a_handle), RvIs(CKR_OBJECT_HANDLE_INVALID));
    auto copy = Addressed<v1::CopyObjectRequest>(b, b_session);
    copy.set_object(a_handle);
    EXPECT_THAT(RvOf(&Stub::CopyObject, copy), RvIs(CKR_OBJECT_HANDLE_INVALID));
  }
  v1::OperationInitRequest encrypt = InitRequest(Mechanism(CKM_AES_ECB), a_key);
  encrypt.set_app(b);
  encrypt.set_session(b_session);
  EXPECT_THAT(RvOf(&Stub::EncryptInit, encrypt), RvIs(CKR_KEY_HANDLE_INVALID));
  // B's own session object may get the same number as A's: it is B's.
  uint64_t b_object = 0;
  ASSERT_THAT(CreateObject(b, b_session, DataObject("B's object"), &b_object), RvIs(CKR_OK));
  EXPECT_EQ(ReadBytes(b, b_session, b_object, CKA_LABEL), "B's object");

  // Closes B sends for sessions it does not have, and its CloseAllSessions,
  // leave A's sessions alone.
  auto digest = Addressed<v1::DataRequest>(b, b_session);
  digest.set_data("abc");
  digest.mutable_output()->set_buffer_len(kMax);
  *digest.mutable_init() = InitRequest(Mechanism(CKM_SHA256), 0);
  for (uint64_t close : {a_second, a_third, uint64_t{0}, kMax}) digest.add_close_first(close);
  v1::DataReply digested;
  EXPECT_THAT(RvOf(&Stub::Digest, digest, &digested), RvIs(CKR_OK));
  EXPECT_EQ(digested.data(), std::string(kSha256Abc, 32));
  v1::SlotRequest close_all;
  close_all.set_app(b);
  close_all.set_slot_id(hsmd_->slot_id);
  EXPECT_THAT(RvOf(&Stub::CloseAllSessions, close_all), RvIs(CKR_OK));
  EXPECT_THAT(RvOf(&Stub::GenerateRandom, RandomRequest(b, b_session, 16)), RvIs(CKR_SESSION_HANDLE_INVALID));

  // A is untouched: its sessions serve, its objects are there, it is still
  // logged in.
  ExpectServes(app_, a_second);
  ExpectServes(app_, a_third);
  EXPECT_EQ(ReadBytes(app_, a_third, a_object, CKA_LABEL), "A's object");
  EXPECT_EQ(ReadBytes(app_, a_third, a_private, CKA_LABEL), "A's private token object");
  EXPECT_THAT(DestroyObject(app_, session_, a_private), RvIs(CKR_OK));
  v1::AppRequest finalize;
  finalize.set_app(b);
  EXPECT_THAT(RvOf(&Stub::Finalize, finalize), RvIs(CKR_OK));
}

// ---------------------------------------------------------------- 3. handles that never existed

TEST_F(HostileRpcTest, SessionsThatNeverExistedAreInvalid) {
  for (uint64_t session : {uint64_t{0}, uint64_t{4242}, kMax}) {
    SCOPED_TRACE(session);
    EXPECT_THAT(RvOf(&Stub::GenerateRandom, RandomRequest(app_, session, 16)), RvIs(CKR_SESSION_HANDLE_INVALID));
    auto request = Addressed<v1::SessionRequest>(app_, session);
    EXPECT_THAT(RvOf(&Stub::GetSessionInfo, request), RvIs(CKR_SESSION_HANDLE_INVALID));
    EXPECT_THAT(RvOf(&Stub::CloseSession, request), RvIs(CKR_SESSION_HANDLE_INVALID));
    EXPECT_THAT(RvOf(&Stub::Logout, request), RvIs(CKR_SESSION_HANDLE_INVALID));
    EXPECT_THAT(RvOf(&Stub::FindObjectsFinal, request), RvIs(CKR_SESSION_HANDLE_INVALID));
    EXPECT_THAT(Login(app_, session, hsmd_->user_pin), RvIs(CKR_SESSION_HANDLE_INVALID));
    EXPECT_THAT(CreateObject(app_, session, DataObject("no session")), RvIs(CKR_SESSION_HANDLE_INVALID));
    auto find = Addressed<v1::FindObjectsInitRequest>(app_, session);
    find.set_prefetch(kMax);
    EXPECT_THAT(RvOf(&Stub::FindObjectsInit, find), RvIs(CKR_SESSION_HANDLE_INVALID));
    v1::OperationInitRequest init = InitRequest(Mechanism(CKM_SHA256), 0);
    init.set_session(session);
    EXPECT_THAT(RvOf(&Stub::DigestInit, init), RvIs(CKR_SESSION_HANDLE_INVALID));
    v1::DataRequest digest = DataRequest("abc", kMax);
    digest.set_session(session);
    *digest.mutable_init() = init;
    EXPECT_THAT(RvOf(&Stub::Digest, digest), RvIs(CKR_SESSION_HANDLE_INVALID));
  }
  // Slots the application does not have.
  for (uint64_t slot : {hsmd_->slot_id + 1000, kMax}) {
    SCOPED_TRACE(slot);
    v1::OpenSessionRequest open;
    open.set_app(app_);
    open.set_slot_id(slot);
    open.set_flags(CKF_SERIAL_SESSION);
    EXPECT_THAT(RvOf(&Stub::OpenSession, open), RvIs(CKR_SLOT_ID_INVALID));
    v1::SlotRequest request;
    request.set_app(app_);
    request.set_slot_id(slot);
    EXPECT_THAT(RvOf(&Stub::GetTokenInfo, request), RvIs(CKR_SLOT_ID_INVALID));
    EXPECT_THAT(RvOf(&Stub::CloseAllSessions, request), RvIs(CKR_SLOT_ID_INVALID));
  }
}

TEST_F(HostileRpcTest, ObjectHandlesThatNeverExistedAreInvalid) {
  const uint64_t aes = SecretKey(app_, session_, CKM_AES_KEY_GEN, 32, {MakeBool(CKA_EXTRACTABLE, true)});
  ASSERT_NE(aes, 0u);
  // Token objects' ids count from 1 and are never reused: no test makes 4242;
  // session objects start at 2^32.
  for (uint64_t handle : {uint64_t{0}, uint64_t{4242}, kFirstSessionObject - 1, kFirstSessionObject + 4242, kMax}) {
    SCOPED_TRACE(handle);
    v1::AttributeResult result;
    v1::OutputSpec output;
    output.set_buffer_len(kMax);
    EXPECT_THAT(GetAttribute(app_, session_, handle, CKA_LABEL, output, &result), RvIs(CKR_OBJECT_HANDLE_INVALID));
    EXPECT_THAT(DestroyObject(app_, session_, handle), RvIs(CKR_OBJECT_HANDLE_INVALID));
    auto object = Addressed<v1::ObjectRequest>(app_, session_);
    object.set_object(handle);
    EXPECT_THAT(RvOf(&Stub::GetObjectSize, object), RvIs(CKR_OBJECT_HANDLE_INVALID));
    auto copy = Addressed<v1::CopyObjectRequest>(app_, session_);
    copy.set_object(handle);
    EXPECT_THAT(RvOf(&Stub::CopyObject, copy), RvIs(CKR_OBJECT_HANDLE_INVALID));
    auto set = Addressed<v1::SetAttributeValueRequest>(app_, session_);
    set.set_object(handle);
    *set.add_template_() = MakeBytes(CKA_LABEL, "x");
    EXPECT_THAT(RvOf(&Stub::SetAttributeValue, set), RvIs(CKR_OBJECT_HANDLE_INVALID));
    // As keys.
    EXPECT_THAT(RvOf(&Stub::EncryptInit, InitRequest(Mechanism(CKM_AES_ECB), handle)), RvIs(CKR_KEY_HANDLE_INVALID));
    EXPECT_THAT(RvOf(&Stub::DecryptInit, InitRequest(Mechanism(CKM_AES_ECB), handle)), RvIs(CKR_KEY_HANDLE_INVALID));
    EXPECT_THAT(RvOf(&Stub::SignInit, InitRequest(Mechanism(CKM_SHA256_HMAC), handle)), RvIs(CKR_KEY_HANDLE_INVALID));
    EXPECT_THAT(RvOf(&Stub::VerifyInit, InitRequest(Mechanism(CKM_SHA256_HMAC), handle)), RvIs(CKR_KEY_HANDLE_INVALID));
    ASSERT_THAT(RvOf(&Stub::DigestInit, InitRequest(Mechanism(CKM_SHA256), 0)), RvIs(CKR_OK));
    EXPECT_THAT(RvOf(&Stub::DigestKey, object), RvIs(CKR_KEY_HANDLE_INVALID));  // and ends the digest
    auto wrap = Addressed<v1::WrapKeyRequest>(app_, session_);
    *wrap.mutable_mechanism() = Mechanism(CKM_AES_KEY_WRAP);
    wrap.set_wrapping_key(handle);
    wrap.set_key(aes);
    wrap.mutable_output()->set_buffer_len(kMax);
    EXPECT_THAT(RvOf(&Stub::WrapKey, wrap), RvIs(CKR_WRAPPING_KEY_HANDLE_INVALID));
    wrap.set_wrapping_key(aes);
    wrap.set_key(handle);
    EXPECT_THAT(RvOf(&Stub::WrapKey, wrap), RvIs(CKR_KEY_HANDLE_INVALID));
    auto unwrap = Addressed<v1::UnwrapKeyRequest>(app_, session_);
    *unwrap.mutable_mechanism() = Mechanism(CKM_AES_KEY_WRAP);
    unwrap.set_unwrapping_key(handle);
    unwrap.set_wrapped_key(std::string(40, 'w'));
    *unwrap.add_template_() = MakeUlong(CKA_CLASS, CKO_SECRET_KEY);
    EXPECT_THAT(RvOf(&Stub::UnwrapKey, unwrap), RvIs(CKR_UNWRAPPING_KEY_HANDLE_INVALID));
    auto derive = Addressed<v1::DeriveKeyRequest>(app_, session_);
    *derive.mutable_mechanism() = Mechanism(CKM_ECDH1_DERIVE);
    derive.set_base_key(handle);
    EXPECT_THAT(RvOf(&Stub::DeriveKey, derive), RvIs(CKR_KEY_HANDLE_INVALID));
  }
  // The digest DigestKey ended is gone, as after any error.
  ASSERT_THAT(RvOf(&Stub::Digest, DataRequest("abc", kMax)), RvIs(CKR_OPERATION_NOT_INITIALIZED));
}

// ---------------------------------------------------------------- 4. random lengths

TEST_F(HostileRpcTest, HugeRandomLengthsAreRefused) {
  // hsmd gives at most 1 MiB a call (server/hsm_random.cc); the client
  // library splits larger requests.
  for (uint64_t length : {(uint64_t{1} << 20) + 1, uint64_t{1} << 40, kMax}) {
    SCOPED_TRACE(length);
    v1::DataReply reply;
    EXPECT_THAT(RvOf(&Stub::GenerateRandom, RandomRequest(app_, session_, length), &reply), RvIs(CKR_ARGUMENTS_BAD));
    EXPECT_EQ(reply.length(), 0u);
    EXPECT_THAT(reply.data(), IsEmpty());
  }
  // The limit itself and nothing at all are fine.
  for (uint64_t length : {uint64_t{1} << 20, uint64_t{0}}) {
    SCOPED_TRACE(length);
    v1::DataReply reply;
    EXPECT_THAT(RvOf(&Stub::GenerateRandom, RandomRequest(app_, session_, length), &reply), RvIs(CKR_OK));
    EXPECT_EQ(reply.length(), length);
    EXPECT_EQ(reply.data().size(), length);
  }
}

// ---------------------------------------------------------------- 5. output buffers

TEST_F(HostileRpcTest, DigestFollowsTheOutputRules) {
  ASSERT_THAT(RvOf(&Stub::DigestInit, InitRequest(Mechanism(CKM_SHA256), 0)), RvIs(CKR_OK));
  // A length query answers the length and keeps the operation.
  v1::DataRequest query = DataRequest("abc", 0);
  query.mutable_output()->set_length_only(true);
  v1::DataReply reply;
  EXPECT_THAT(RvOf(&Stub::Digest, query, &reply), RvIs(CKR_OK));
  EXPECT_EQ(reply.length(), 32u);
  EXPECT_THAT(reply.data(), IsEmpty());
  // A buffer too small, down to none: the length, no bytes, and the
  // operation stays for the retry.
  for (uint64_t buffer_len : {uint64_t{0}, uint64_t{31}}) {
    SCOPED_TRACE(buffer_len);
    reply.Clear();
    EXPECT_THAT(RvOf(&Stub::Digest, DataRequest("abc", buffer_len), &reply), RvIs(CKR_BUFFER_TOO_SMALL));
    EXPECT_EQ(reply.length(), 32u);
    EXPECT_THAT(reply.data(), IsEmpty());
  }
  // A capacity far beyond the output is a capacity, not a length to fill.
  reply.Clear();
  EXPECT_THAT(RvOf(&Stub::Digest, DataRequest("abc", kMax), &reply), RvIs(CKR_OK));
  EXPECT_EQ(reply.length(), 32u);
  EXPECT_EQ(reply.data(), std::string(kSha256Abc, 32));
  // That ended the operation.
  EXPECT_THAT(RvOf(&Stub::Digest, DataRequest("abc", kMax)), RvIs(CKR_OPERATION_NOT_INITIALIZED));
}

TEST_F(HostileRpcTest, SignFollowsTheOutputRules) {
  const uint64_t key = SecretKey(app_, session_, CKM_GENERIC_SECRET_KEY_GEN, 32);
  ASSERT_NE(key, 0u);
  ASSERT_THAT(RvOf(&Stub::SignInit, InitRequest(Mechanism(CKM_SHA256_HMAC), key)), RvIs(CKR_OK));
  v1::DataRequest query = DataRequest("data", kMax);  // length_only wins over the capacity
  query.mutable_output()->set_length_only(true);
  v1::DataReply reply;
  EXPECT_THAT(RvOf(&Stub::Sign, query, &reply), RvIs(CKR_OK));
  EXPECT_EQ(reply.length(), 32u);
  EXPECT_THAT(reply.data(), IsEmpty());
  reply.Clear();
  EXPECT_THAT(RvOf(&Stub::Sign, DataRequest("data", 0), &reply), RvIs(CKR_BUFFER_TOO_SMALL));
  EXPECT_EQ(reply.length(), 32u);
  EXPECT_THAT(reply.data(), IsEmpty());
  reply.Clear();
  EXPECT_THAT(RvOf(&Stub::Sign, DataRequest("data", kMax), &reply), RvIs(CKR_OK));
  ASSERT_EQ(reply.data().size(), 32u);
  // The MAC is the data's: it verifies.
  ASSERT_THAT(RvOf(&Stub::VerifyInit, InitRequest(Mechanism(CKM_SHA256_HMAC), key)), RvIs(CKR_OK));
  auto verify = Addressed<v1::VerifyRequest>(app_, session_);
  verify.set_data("data");
  verify.set_signature(reply.data());
  EXPECT_THAT(RvOf(&Stub::Verify, verify), RvIs(CKR_OK));
  EXPECT_THAT(RvOf(&Stub::Sign, DataRequest("data", kMax)), RvIs(CKR_OPERATION_NOT_INITIALIZED));
}

TEST_F(HostileRpcTest, GetAttributeValueFollowsTheOutputRules) {
  uint64_t object = 0;
  ASSERT_THAT(CreateObject(app_, session_, DataObject("twelve bytes"), &object), RvIs(CKR_OK));
  v1::OutputSpec output;
  v1::AttributeResult result;
  // Per attribute: the reply's rv stays CKR_OK (proto AttributeResult).
  output.set_buffer_len(0);
  ASSERT_THAT(GetAttribute(app_, session_, object, CKA_LABEL, output, &result), RvIs(CKR_OK));
  EXPECT_THAT(result.rv(), RvIs(CKR_BUFFER_TOO_SMALL));
  EXPECT_EQ(result.length(), 12u);
  EXPECT_FALSE(result.has_attribute());
  output.set_length_only(true);
  ASSERT_THAT(GetAttribute(app_, session_, object, CKA_LABEL, output, &result), RvIs(CKR_OK));
  EXPECT_THAT(result.rv(), RvIs(CKR_OK));
  EXPECT_EQ(result.length(), 12u);
  EXPECT_FALSE(result.has_attribute());
  output.set_length_only(false);
  output.set_buffer_len(kMax);
  ASSERT_THAT(GetAttribute(app_, session_, object, CKA_LABEL, output, &result), RvIs(CKR_OK));
  EXPECT_THAT(result.rv(), RvIs(CKR_OK));
  EXPECT_EQ(result.attribute().bytes(), "twelve bytes");
}

TEST_F(HostileRpcTest, DataCallsWithoutAnOperationAreNotInitialized) {
  for (auto method : {&Stub::Encrypt, &Stub::EncryptUpdate, &Stub::Decrypt, &Stub::DecryptUpdate, &Stub::Digest,
                      &Stub::Sign, &Stub::SignRecover, &Stub::VerifyRecover}) {
    EXPECT_THAT(RvOf(method, DataRequest("data", kMax)), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  }
  for (auto method : {&Stub::DigestUpdate, &Stub::SignUpdate, &Stub::VerifyUpdate}) {
    EXPECT_THAT(RvOf(method, DataRequest("data", kMax)), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  }
  auto final_request = Addressed<v1::OutputRequest>(app_, session_);
  final_request.mutable_output()->set_buffer_len(kMax);
  for (auto method : {&Stub::EncryptFinal, &Stub::DecryptFinal, &Stub::DigestFinal, &Stub::SignFinal}) {
    EXPECT_THAT(RvOf(method, final_request), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  }
  auto verify = Addressed<v1::VerifyRequest>(app_, session_);
  verify.set_signature(std::string(32, 's'));
  EXPECT_THAT(RvOf(&Stub::Verify, verify), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  EXPECT_THAT(RvOf(&Stub::VerifyFinal, verify), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  auto digest_key = Addressed<v1::ObjectRequest>(app_, session_);
  digest_key.set_object(kFirstSessionObject);
  EXPECT_THAT(RvOf(&Stub::DigestKey, digest_key), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  auto find = Addressed<v1::FindObjectsRequest>(app_, session_);
  find.set_max_objects(kMax);
  EXPECT_THAT(RvOf(&Stub::FindObjects, find), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  auto find_final = Addressed<v1::SessionRequest>(app_, session_);
  EXPECT_THAT(RvOf(&Stub::FindObjectsFinal, find_final), RvIs(CKR_OPERATION_NOT_INITIALIZED));
}

// ---------------------------------------------------------------- 6. mechanisms

TEST_F(HostileRpcTest, UnknownMechanismsAreRefused) {
  const uint64_t aes = SecretKey(app_, session_, CKM_AES_KEY_GEN, 32, {MakeBool(CKA_EXTRACTABLE, true)});
  ASSERT_NE(aes, 0u);
  for (uint64_t type : {uint64_t{0x7fffffff}, uint64_t{CKM_VENDOR_DEFINED | 1}, uint64_t{1} << 40, kMax}) {
    SCOPED_TRACE(type);
    EXPECT_THAT(RvOf(&Stub::EncryptInit, InitRequest(Mechanism(type), aes)), RvIs(CKR_MECHANISM_INVALID));
    EXPECT_THAT(RvOf(&Stub::DecryptInit, InitRequest(Mechanism(type), aes)), RvIs(CKR_MECHANISM_INVALID));
    EXPECT_THAT(RvOf(&Stub::SignInit, InitRequest(Mechanism(type), aes)), RvIs(CKR_MECHANISM_INVALID));
    EXPECT_THAT(RvOf(&Stub::VerifyInit, InitRequest(Mechanism(type), aes)), RvIs(CKR_MECHANISM_INVALID));
    EXPECT_THAT(RvOf(&Stub::DigestInit, InitRequest(Mechanism(type), 0)), RvIs(CKR_MECHANISM_INVALID));
    // A data call that carries the Init answers the Init's CK_RV.
    v1::DataRequest digest = DataRequest("abc", kMax);
    *digest.mutable_init() = InitRequest(Mechanism(type), 0);
    EXPECT_THAT(RvOf(&Stub::Digest, digest), RvIs(CKR_MECHANISM_INVALID));
    v1::GetMechanismInfoRequest info;
    info.set_app(app_);
    info.set_slot_id(hsmd_->slot_id);
    info.set_type(type);
    EXPECT_THAT(RvOf(&Stub::GetMechanismInfo, info), RvIs(CKR_MECHANISM_INVALID));
    auto generate = Addressed<v1::GenerateKeyRequest>(app_, session_);
    *generate.mutable_mechanism() = Mechanism(type);
    *generate.add_template_() = MakeUlong(CKA_VALUE_LEN, 32);
    EXPECT_THAT(RvOf(&Stub::GenerateKey, generate), RvIs(CKR_MECHANISM_INVALID));
    auto generate_pair = Addressed<v1::GenerateKeyPairRequest>(app_, session_);
    *generate_pair.mutable_mechanism() = Mechanism(type);
    EXPECT_THAT(RvOf(&Stub::GenerateKeyPair, generate_pair), RvIs(CKR_MECHANISM_INVALID));
    auto wrap = Addressed<v1::WrapKeyRequest>(app_, session_);
    *wrap.mutable_mechanism() = Mechanism(type);
    wrap.set_wrapping_key(aes);
    wrap.set_key(aes);
    wrap.mutable_output()->set_buffer_len(kMax);
    EXPECT_THAT(RvOf(&Stub::WrapKey, wrap), RvIs(CKR_MECHANISM_INVALID));
    auto derive = Addressed<v1::DeriveKeyRequest>(app_, session_);
    *derive.mutable_mechanism() = Mechanism(type);
    derive.set_base_key(aes);
    EXPECT_THAT(RvOf(&Stub::DeriveKey, derive), RvIs(CKR_MECHANISM_INVALID));
  }
  // Known mechanisms asked for what they cannot do.
  EXPECT_THAT(RvOf(&Stub::SignInit, InitRequest(Mechanism(CKM_AES_GCM), aes)), RvIs(CKR_MECHANISM_INVALID));
  EXPECT_THAT(RvOf(&Stub::DigestInit, InitRequest(Mechanism(CKM_AES_CBC), 0)), RvIs(CKR_MECHANISM_INVALID));
  EXPECT_THAT(RvOf(&Stub::EncryptInit, InitRequest(Mechanism(CKM_SHA256), aes)), RvIs(CKR_MECHANISM_INVALID));
}

TEST_F(HostileRpcTest, MalformedGcmParametersAreRefused) {
  const uint64_t aes = SecretKey(app_, session_, CKM_AES_KEY_GEN, 32);
  ASSERT_NE(aes, 0u);
  auto gcm = [](std::string iv, uint64_t tag_bits) {
    v1::Mechanism mechanism = Mechanism(CKM_AES_GCM);
    mechanism.mutable_gcm()->set_iv(std::move(iv));
    mechanism.mutable_gcm()->set_iv_bits(96);
    mechanism.mutable_gcm()->set_tag_bits(tag_bits);
    return mechanism;
  };
  v1::Mechanism wrong_shape = Mechanism(CKM_AES_GCM);
  wrong_shape.set_iv(std::string(12, 'i'));
  std::vector<v1::Mechanism> malformed = {
      Mechanism(CKM_AES_GCM),           // no parameters
      wrong_shape,                      // an IV, not GCM parameters
      gcm("", 128),                     // no IV
      gcm(std::string(129, 'i'), 128),  // an IV longer than OpenSSL takes
      gcm(std::string(12, 'i'), 0),
      gcm(std::string(12, 'i'), 33),
      gcm(std::string(12, 'i'), 136),
      gcm(std::string(12, 'i'), kMax),
      gcm(std::string(12, 'i'), uint64_t{1} << 32 | 128),  // 128 if truncated to 32 bits
  };
  for (size_t i = 0; i < malformed.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_THAT(RvOf(&Stub::EncryptInit, InitRequest(malformed[i], aes)), RvIs(CKR_MECHANISM_PARAM_INVALID));
    EXPECT_THAT(RvOf(&Stub::DecryptInit, InitRequest(malformed[i], aes)), RvIs(CKR_MECHANISM_PARAM_INVALID));
  }
  // ulIvBits is ignored (2.40 clients disagree on it; the IV's length
  // rules), so an absurd one is no error.
  v1::Mechanism absurd_iv_bits = gcm(std::string(12, 'i'), 128);
  absurd_iv_bits.mutable_gcm()->set_iv_bits(kMax);
  ASSERT_THAT(RvOf(&Stub::EncryptInit, InitRequest(absurd_iv_bits, aes)), RvIs(CKR_OK));
  v1::DataReply reply;
  EXPECT_THAT(RvOf(&Stub::Encrypt, DataRequest("x", kMax), &reply), RvIs(CKR_OK));
  EXPECT_EQ(reply.data().size(), 1u + 16u);  // the byte and a 128-bit tag
}

TEST_F(HostileRpcTest, MalformedCbcAndCtrParametersAreRefused) {
  const uint64_t aes = SecretKey(app_, session_, CKM_AES_KEY_GEN, 16);
  ASSERT_NE(aes, 0u);
  auto cbc = [](std::string iv) {
    v1::Mechanism mechanism = Mechanism(CKM_AES_CBC_PAD);
    mechanism.set_iv(std::move(iv));
    return mechanism;
  };
  auto ctr = [](uint64_t counter_bits, std::string block) {
    v1::Mechanism mechanism = Mechanism(CKM_AES_CTR);
    mechanism.mutable_ctr()->set_counter_bits(counter_bits);
    mechanism.mutable_ctr()->set_counter_block(std::move(block));
    return mechanism;
  };
  v1::Mechanism cbc_with_gcm = Mechanism(CKM_AES_CBC);
  cbc_with_gcm.mutable_gcm()->set_iv(std::string(16, 'i'));
  std::vector<v1::Mechanism> malformed = {
      Mechanism(CKM_AES_CBC),         cbc(""),
      cbc(std::string(15, 'i')),      cbc(std::string(17, 'i')),
      cbc(std::string(1 << 20, 'i')), cbc_with_gcm,
      Mechanism(CKM_AES_CTR),         ctr(0, std::string(16, 'c')),
      ctr(129, std::string(16, 'c')), ctr(kMax, std::string(16, 'c')),
      ctr(32, std::string(15, 'c')),  ctr(32, std::string(17, 'c')),
  };
  for (size_t i = 0; i < malformed.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_THAT(RvOf(&Stub::EncryptInit, InitRequest(malformed[i], aes)), RvIs(CKR_MECHANISM_PARAM_INVALID));
    EXPECT_THAT(RvOf(&Stub::DecryptInit, InitRequest(malformed[i], aes)), RvIs(CKR_MECHANISM_PARAM_INVALID));
  }
  // A 1-bit counter already at its last value gives one block, not two (the
  // counter would carry into the nonce).
  std::string last_block(16, '\0');
  last_block[15] = 1;
  ASSERT_THAT(RvOf(&Stub::EncryptInit, InitRequest(ctr(1, last_block), aes)), RvIs(CKR_OK));
  EXPECT_THAT(RvOf(&Stub::Encrypt, DataRequest(std::string(17, 'd'), kMax)), RvIs(CKR_DATA_LEN_RANGE));
}

TEST_F(HostileRpcTest, MalformedPssAndOaepParametersAreRefused) {
  uint64_t public_key = 0, private_key = 0;
  ASSERT_TRUE(
      KeyPair(CKM_RSA_PKCS_KEY_PAIR_GEN,
              {MakeUlong(CKA_MODULUS_BITS, 1024), MakeBytes(CKA_PUBLIC_EXPONENT, std::string("\x01\x00\x01", 3))}, {},
              &public_key, &private_key));
  auto pss = [](uint64_t type, uint64_t hash, uint64_t mgf, uint64_t salt) {
    v1::Mechanism mechanism = Mechanism(type);
    mechanism.mutable_pss()->set_hash_alg(hash);
    mechanism.mutable_pss()->set_mgf(mgf);
    mechanism.mutable_pss()->set_salt_len(salt);
    return mechanism;
  };
  v1::Mechanism pss_with_oaep = Mechanism(CKM_RSA_PKCS_PSS);
  pss_with_oaep.mutable_oaep()->set_hash_alg(CKM_SHA256);
  pss_with_oaep.mutable_oaep()->set_mgf(CKG_MGF1_SHA256);
  std::vector<v1::Mechanism> malformed_pss = {
      Mechanism(CKM_RSA_PKCS_PSS),  // no parameters
      pss_with_oaep,
      pss(CKM_RSA_PKCS_PSS, 0x12345, CKG_MGF1_SHA256, 32),  // an unknown hash
      pss(CKM_RSA_PKCS_PSS, CKM_MD5, CKG_MGF1_SHA256, 16),
      pss(CKM_RSA_PKCS_PSS, CKM_SHA256, 0x999, 32),              // an unknown MGF
      pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 1024),  // more salt than the key holds
      pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, kMax),
      pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA_1, CKG_MGF1_SHA256, 32),  // not the mechanism's hash
  };
  for (size_t i = 0; i < malformed_pss.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_THAT(RvOf(&Stub::SignInit, InitRequest(malformed_pss[i], private_key)), RvIs(CKR_MECHANISM_PARAM_INVALID));
    EXPECT_THAT(RvOf(&Stub::VerifyInit, InitRequest(malformed_pss[i], public_key)), RvIs(CKR_MECHANISM_PARAM_INVALID));
  }
  // The key and mechanism work with sane parameters: the refusals above
  // were the parameters'.
  EXPECT_THAT(RvOf(&Stub::SignInit, InitRequest(pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32), private_key)),
              RvIs(CKR_OK));
  EXPECT_THAT(RvOf(&Stub::Sign, DataRequest(std::string(32, 'h'), kMax)), RvIs(CKR_OK));

  auto oaep = [](uint64_t hash, uint64_t mgf, uint64_t source, std::string label) {
    v1::Mechanism mechanism = Mechanism(CKM_RSA_PKCS_OAEP);
    mechanism.mutable_oaep()->set_hash_alg(hash);
    mechanism.mutable_oaep()->set_mgf(mgf);
    mechanism.mutable_oaep()->set_source(source);
    mechanism.mutable_oaep()->set_source_data(std::move(label));
    return mechanism;
  };
  std::vector<v1::Mechanism> malformed_oaep = {
      Mechanism(CKM_RSA_PKCS_OAEP),
      oaep(0x12345, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, ""),
      oaep(CKM_SHA256, kMax, CKZ_DATA_SPECIFIED, ""),
      oaep(CKM_SHA256, CKG_MGF1_SHA256, 7, ""),                  // an unknown source
      oaep(CKM_SHA256, CKG_MGF1_SHA256, 0, "label, no source"),  // a label without its source
  };
  for (size_t i = 0; i < malformed_oaep.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_THAT(RvOf(&Stub::EncryptInit, InitRequest(malformed_oaep[i], public_key)),
                RvIs(CKR_MECHANISM_PARAM_INVALID));
    EXPECT_THAT(RvOf(&Stub::DecryptInit, InitRequest(malformed_oaep[i], private_key)),
                RvIs(CKR_MECHANISM_PARAM_INVALID));
  }
  EXPECT_THAT(
      RvOf(&Stub::EncryptInit, InitRequest(oaep(CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, "label"), public_key)),
      RvIs(CKR_OK));
}

TEST_F(HostileRpcTest, MalformedEcdhParametersAreRefused) {
  uint64_t public_key = 0, private_key = 0;
  ASSERT_TRUE(KeyPair(CKM_EC_KEY_PAIR_GEN, {MakeBytes(CKA_EC_PARAMS, std::string(kP256, sizeof kP256 - 1))},
                      {MakeBool(CKA_DERIVE, true)}, &public_key, &private_key));
  const std::string point = ReadBytes(app_, session_, public_key, CKA_EC_POINT);
  ASSERT_FALSE(point.empty());
  auto ecdh = [](uint64_t kdf, std::string shared, std::string peer) {
    v1::Mechanism mechanism = Mechanism(CKM_ECDH1_DERIVE);
    mechanism.mutable_ecdh1()->set_kdf(kdf);
    mechanism.mutable_ecdh1()->set_shared_data(std::move(shared));
    mechanism.mutable_ecdh1()->set_public_data(std::move(peer));
    return mechanism;
  };
  auto derive = [&](const v1::Mechanism& mechanism, uint64_t value_len) {
    auto request = Addressed<v1::DeriveKeyRequest>(app_, session_);
    *request.mutable_mechanism() = mechanism;
    request.set_base_key(private_key);
    for (const v1::Attribute& attribute :
         {MakeUlong(CKA_CLASS, CKO_SECRET_KEY), MakeUlong(CKA_KEY_TYPE, CKK_GENERIC_SECRET), MakeBool(CKA_TOKEN, false),
          MakeBool(CKA_PRIVATE, false), MakeUlong(CKA_VALUE_LEN, value_len)}) {
      *request.add_template_() = attribute;
    }
    return RvOf(&Stub::DeriveKey, request);
  };
  EXPECT_THAT(derive(Mechanism(CKM_ECDH1_DERIVE), 32), RvIs(CKR_MECHANISM_PARAM_INVALID));
  EXPECT_THAT(derive(ecdh(0x999, "", point), 32), RvIs(CKR_MECHANISM_PARAM_INVALID));
  EXPECT_THAT(derive(ecdh(CKD_NULL, "shared data", point), 32), RvIs(CKR_MECHANISM_PARAM_INVALID));
  EXPECT_THAT(derive(ecdh(CKD_SHA256_KDF, "", "not a point"), 32), RvIs(CKR_MECHANISM_PARAM_INVALID));
  EXPECT_THAT(derive(ecdh(CKD_SHA256_KDF, "", std::string(1 << 20, '\x04')), 32), RvIs(CKR_MECHANISM_PARAM_INVALID));
  // A KDF could make any length: hsmd does not make gigabytes.
  EXPECT_THAT(derive(ecdh(CKD_SHA256_KDF, "", point), kMax), RvIs(CKR_KEY_SIZE_RANGE));
  EXPECT_THAT(derive(ecdh(CKD_SHA256_KDF, "", point), uint64_t{1} << 32), RvIs(CKR_KEY_SIZE_RANGE));
  EXPECT_THAT(derive(ecdh(CKD_NULL, "", point), 33), RvIs(CKR_KEY_SIZE_RANGE));  // Z has 32 bytes
  EXPECT_THAT(derive(ecdh(CKD_SHA256_KDF, "", point), 32), RvIs(CKR_OK));
}

// ---------------------------------------------------------------- 7. templates

TEST_F(HostileRpcTest, CreateObjectRefusesInconsistentTemplates) {
  Attributes twice = DataObject("one");
  twice.push_back(MakeBytes(CKA_LABEL, "two"));
  EXPECT_THAT(CreateObject(app_, session_, twice), RvIs(CKR_TEMPLATE_INCONSISTENT));
  Attributes two_classes = DataObject("two classes");
  two_classes.push_back(MakeUlong(CKA_CLASS, CKO_CERTIFICATE));
  EXPECT_THAT(CreateObject(app_, session_, two_classes), RvIs(CKR_TEMPLATE_INCONSISTENT));
  // A type repeated with the same value is the same template.
  Attributes same_twice = DataObject("same");
  same_twice.push_back(MakeBytes(CKA_LABEL, "same"));
  uint64_t object = 0;
  EXPECT_THAT(CreateObject(app_, session_, same_twice, &object), RvIs(CKR_OK));
  EXPECT_EQ(ReadBytes(app_, session_, object, CKA_LABEL), "same");
  EXPECT_THAT(CreateObject(app_, session_, {}), RvIs(CKR_TEMPLATE_INCOMPLETE));
  EXPECT_THAT(CreateObject(app_, session_, {MakeBool(CKA_TOKEN, false), MakeBytes(CKA_LABEL, "no class")}),
              RvIs(CKR_TEMPLATE_INCOMPLETE));
}

TEST_F(HostileRpcTest, CreateObjectRefusesUnknownAttributesAndClasses) {
  // Neither a data object's nor vendor-defined (bit 31 clear).
  for (uint64_t type : {uint64_t{0x7ffffff0}, uint64_t{1} << 40}) {
    SCOPED_TRACE(type);
    Attributes attributes = DataObject("unknown attribute");
    attributes.push_back(MakeBytes(type, "v"));
    EXPECT_THAT(CreateObject(app_, session_, attributes), RvIs(CKR_ATTRIBUTE_TYPE_INVALID));
  }
  // Vendor-defined attributes are kept verbatim.
  Attributes vendor = DataObject("vendor attribute");
  vendor.push_back(MakeBytes(CKA_VENDOR_DEFINED | 7, "vendor value"));
  uint64_t object = 0;
  ASSERT_THAT(CreateObject(app_, session_, vendor, &object), RvIs(CKR_OK));
  EXPECT_EQ(ReadBytes(app_, session_, object, CKA_VENDOR_DEFINED | 7), "vendor value");
  // Classes hsmd does not keep.
  for (uint64_t object_class : {uint64_t{0x7fffffff}, uint64_t{CKO_MECHANISM}, uint64_t{1} << 40}) {
    SCOPED_TRACE(object_class);
    EXPECT_THAT(CreateObject(app_, session_, {MakeUlong(CKA_CLASS, object_class), MakeBool(CKA_TOKEN, false)}),
                RvIs(CKR_ATTRIBUTE_VALUE_INVALID));
  }
  // A key type hsmd does not keep.
  EXPECT_THAT(CreateObject(app_, session_,
                           {MakeUlong(CKA_CLASS, CKO_SECRET_KEY), MakeUlong(CKA_KEY_TYPE, 0x7ffffff0),
                            MakeBool(CKA_TOKEN, false), MakeBool(CKA_PRIVATE, false),
                            MakeBytes(CKA_VALUE, std::string(16, 'k'))}),
              RvIs(CKR_ATTRIBUTE_VALUE_INVALID));
}

TEST_F(HostileRpcTest, CreateObjectRefusesValuesOfTheWrongKind) {
  // CKA_CLASS is a CK_ULONG: as bytes of any length, a boolean, a nested
  // template or no value at all, it is no class.
  v1::Attribute no_value;
  no_value.set_type(CKA_CLASS);
  v1::Attribute nested;
  nested.set_type(CKA_CLASS);
  *nested.mutable_attributes()->add_attributes() = MakeUlong(CKA_CLASS, CKO_DATA);
  for (const v1::Attribute& bad_class :
       {MakeBytes(CKA_CLASS, std::string(3, '\0')), MakeBytes(CKA_CLASS, std::string(8, '\0')),
        MakeBytes(CKA_CLASS, ""), MakeBool(CKA_CLASS, false), nested, no_value}) {
    SCOPED_TRACE(bad_class.ShortDebugString());
    EXPECT_THAT(CreateObject(app_, session_, {bad_class, MakeBool(CKA_TOKEN, false)}),
                RvIs(CKR_ATTRIBUTE_VALUE_INVALID));
  }
  // Other attributes of the wrong kind.
  for (const v1::Attribute& bad : {MakeUlong(CKA_TOKEN, 1), MakeBytes(CKA_PRIVATE, "\x01"), MakeUlong(CKA_LABEL, 7)}) {
    SCOPED_TRACE(bad.ShortDebugString());
    EXPECT_THAT(CreateObject(app_, session_, {MakeUlong(CKA_CLASS, CKO_DATA), bad}), RvIs(CKR_ATTRIBUTE_VALUE_INVALID));
  }
  // An AES key of a length AES does not have.
  for (size_t length : {size_t{0}, size_t{15}, size_t{33}, size_t{1} << 20}) {
    SCOPED_TRACE(length);
    EXPECT_THAT(CreateObject(
                    app_, session_,
                    {MakeUlong(CKA_CLASS, CKO_SECRET_KEY), MakeUlong(CKA_KEY_TYPE, CKK_AES), MakeBool(CKA_TOKEN, false),
                     MakeBool(CKA_PRIVATE, false), MakeBytes(CKA_VALUE, std::string(length, 'k'))}),
                RvIs(CKR_ATTRIBUTE_VALUE_INVALID));
  }
}

// A template of `depth` attribute lists, one inside the other, the outermost
// of `type`.
v1::Attribute NestedLists(uint64_t type, int depth) {
  v1::Attribute list = MakeBool(CKA_SENSITIVE, true);
  for (int level = 0; level < depth; ++level) {
    v1::Attribute outer;
    outer.set_type(level + 1 == depth ? type : CKA_VENDOR_DEFINED | 10);
    *outer.mutable_attributes()->add_attributes() = list;
    list = outer;
  }
  return list;
}

// PKCS #11 templates do not nest. Lists inside lists are refused on the vendor
// attributes a data object keeps verbatim and in a key's unwrap template, as
// deep as protobuf parses them; deeper, gRPC refuses the request unread
// (protobuf's limit of 100 levels, two per list).
TEST_F(HostileRpcTest, TemplatesInsideTemplatesAreRefused) {
  const Attributes key = {MakeUlong(CKA_CLASS, CKO_SECRET_KEY), MakeUlong(CKA_KEY_TYPE, CKK_AES),
                          MakeBool(CKA_TOKEN, false), MakeBytes(CKA_VALUE, std::string(16, 'k'))};
  for (int depth : {2, 3, 45}) {
    SCOPED_TRACE(depth);
    Attributes data_object = DataObject("nested");
    data_object.push_back(NestedLists(CKA_VENDOR_DEFINED | 9, depth));
    EXPECT_THAT(CreateObject(app_, session_, data_object), RvIs(CKR_ATTRIBUTE_VALUE_INVALID));
    Attributes unwrapping_key = key;
    unwrapping_key.push_back(NestedLists(CKA_UNWRAP_TEMPLATE, depth));
    EXPECT_THAT(CreateObject(app_, session_, unwrapping_key), RvIs(CKR_ATTRIBUTE_VALUE_INVALID));
  }
  grpc::Status too_deep = CreateDataObjectStatus("too deep", NestedLists(CKA_VENDOR_DEFINED | 9, 1000));
  EXPECT_EQ(too_deep.error_code(), grpc::StatusCode::INTERNAL) << too_deep.error_message();
  ExpectServes(app_, session_);
}

TEST_F(HostileRpcTest, CreateObjectTakesManyTinyAttributes) {
  constexpr uint64_t kCount = 100000;
  // 100,000 distinct vendor-defined attributes: a bounded success.
  Attributes many = DataObject("many attributes");
  for (uint64_t i = 0; i < kCount; ++i) many.push_back(MakeBytes(CKA_VENDOR_DEFINED | i, "v"));
  uint64_t object = 0;
  ASSERT_THAT(CreateObject(app_, session_, many, &object), RvIs(CKR_OK));
  ExpectServes(app_, session_);
  auto size = Addressed<v1::ObjectRequest>(app_, session_);
  size.set_object(object);
  v1::GetObjectSizeReply size_reply;
  ASSERT_THAT(RvOf(&Stub::GetObjectSize, size, &size_reply), RvIs(CKR_OK));
  EXPECT_GT(size_reply.size(), kCount);
  EXPECT_EQ(ReadBytes(app_, session_, object, CKA_VENDOR_DEFINED | (kCount - 1)), "v");
  // 100,000 queries in one GetAttributeValue: one result each.
  auto read = Addressed<v1::GetAttributeValueRequest>(app_, session_);
  read.set_object(object);
  for (uint64_t i = 0; i < kCount; ++i) {
    v1::AttributeQuery* query = read.add_queries();
    query->set_type(0x10000000 + i);  // no object has these
    query->mutable_output()->set_buffer_len(kMax);
  }
  v1::GetAttributeValueReply read_reply;
  ASSERT_THAT(RvOf(&Stub::GetAttributeValue, read, &read_reply), RvIs(CKR_OK));
  ASSERT_EQ(read_reply.results_size(), static_cast<int>(kCount));
  EXPECT_THAT(read_reply.results(0).rv(), RvIs(CKR_ATTRIBUTE_TYPE_INVALID));
  EXPECT_THAT(read_reply.results(kCount - 1).rv(), RvIs(CKR_ATTRIBUTE_TYPE_INVALID));
  EXPECT_THAT(DestroyObject(app_, session_, object), RvIs(CKR_OK));
  ExpectServes(app_, session_);

  // 100,000 copies of one attribute are one attribute.
  Attributes copies = DataObject("copies");
  for (uint64_t i = 0; i < kCount; ++i) copies.push_back(MakeBytes(CKA_LABEL, "copies"));
  ASSERT_THAT(CreateObject(app_, session_, copies, &object), RvIs(CKR_OK));
  v1::GetObjectSizeReply copies_size;
  size.set_object(object);
  ASSERT_THAT(RvOf(&Stub::GetObjectSize, size, &copies_size), RvIs(CKR_OK));
  EXPECT_LT(copies_size.size(), 1000u);
  // 100,000 attributes no data object has: refused.
  Attributes unknown = DataObject("unknown");
  for (uint64_t i = 0; i < kCount; ++i) unknown.push_back(MakeBytes(0x10000000 + i, "v"));
  EXPECT_THAT(CreateObject(app_, session_, unknown), RvIs(CKR_ATTRIBUTE_TYPE_INVALID));
}

TEST_F(HostileRpcTest, CreateObjectTakesAValueOfSomeMiB) {
  // Under hsmd's 16 MiB message limit; a token object goes through LMDB.
  std::string value(8 << 20, '\0');
  std::mt19937_64 random(7);
  for (char& byte : value) byte = static_cast<char>(random());
  for (bool token : {false, true}) {
    SCOPED_TRACE(token);
    uint64_t object = 0;
    ASSERT_THAT(CreateObject(app_, session_,
                             {MakeUlong(CKA_CLASS, CKO_DATA), MakeBool(CKA_TOKEN, token), MakeBool(CKA_PRIVATE, false),
                              MakeBytes(CKA_LABEL, "big"), MakeBytes(CKA_VALUE, value)},
                             &object),
                RvIs(CKR_OK));
    ExpectServes(app_, session_);
    v1::OutputSpec query;
    query.set_length_only(true);
    v1::AttributeResult result;
    ASSERT_THAT(GetAttribute(app_, session_, object, CKA_VALUE, query, &result), RvIs(CKR_OK));
    EXPECT_EQ(result.length(), value.size());
    EXPECT_TRUE(ReadBytes(app_, session_, object, CKA_VALUE) == value) << "the value did not come back intact";
    EXPECT_THAT(DestroyObject(app_, session_, object), RvIs(CKR_OK));
  }
}

// Session objects live in hsmd's memory: one application's hold at most
// --max_session_object_bytes (64 MiB by default) together, whatever their
// number, and another application keeps its own share.
TEST_F(HostileRpcTest, SessionObjectsCannotFillHsmdsMemory) {
  const Attributes big = {MakeUlong(CKA_CLASS, CKO_DATA), MakeBool(CKA_TOKEN, false),
                          MakeBytes(CKA_VALUE, std::string(8 << 20, 'v'))};
  std::vector<uint64_t> made;
  CK_RV rv = CKR_OK;
  while (made.size() < 10) {
    uint64_t object = 0;
    rv = CreateObject(app_, session_, big, &object);
    if (rv != CKR_OK) break;
    made.push_back(object);
  }
  EXPECT_THAT(rv, RvIs(CKR_DEVICE_MEMORY));
  EXPECT_EQ(made.size(), 7u) << "8 MiB objects within 64 MiB";

  const uint64_t other = Register();
  ASSERT_NE(other, 0u);
  const uint64_t other_session = OpenSession(other);
  uint64_t others_object = 0;
  EXPECT_THAT(CreateObject(other, other_session, big, &others_object), RvIs(CKR_OK));
  EXPECT_THAT(DestroyObject(other, other_session, others_object), RvIs(CKR_OK));

  // Destroying one gives its share back.
  ASSERT_THAT(DestroyObject(app_, session_, made.back()), RvIs(CKR_OK));
  made.pop_back();
  uint64_t again = 0;
  EXPECT_THAT(CreateObject(app_, session_, big, &again), RvIs(CKR_OK));
  made.push_back(again);
  for (uint64_t object : made) EXPECT_THAT(DestroyObject(app_, session_, object), RvIs(CKR_OK));
  v1::AppRequest finalize;
  finalize.set_app(other);
  EXPECT_THAT(RvOf(&Stub::Finalize, finalize), RvIs(CKR_OK));
}

// What operations keep between calls (AES-GCM ciphertext until
// C_DecryptFinal, an output kept for a retry with a larger buffer) is bounded
// per application by --max_operation_bytes (64 MiB by default), across its
// sessions. The call that would pass it ends its operation with
// CKR_DEVICE_MEMORY; an ended operation gives its share back.
TEST_F(HostileRpcTest, OperationsCannotFillHsmdsMemory) {
  const uint64_t aes = SecretKey(app_, session_, CKM_AES_KEY_GEN, 32);
  ASSERT_NE(aes, 0u);
  const std::string chunk(15 << 20, 'c');  // 15 MiB: 4 fit in 64 MiB, 5 do not
  v1::Mechanism gcm = Mechanism(CKM_AES_GCM);
  gcm.mutable_gcm()->set_iv(std::string(12, 'i'));
  gcm.mutable_gcm()->set_tag_bits(128);
  auto on = [](uint64_t app, uint64_t session, auto request) {
    request.set_app(app);
    request.set_session(session);
    return request;
  };
  auto update = [&](uint64_t app, uint64_t session, const std::string& data) {
    return RvOf(&Stub::DecryptUpdate, on(app, session, DataRequest(data, kMax)));
  };
  auto fill = [&](uint64_t app, uint64_t session, uint64_t key) {
    auto init = InitRequest(gcm, key);
    ASSERT_THAT(RvOf(&Stub::DecryptInit, on(app, session, init)), RvIs(CKR_OK));
    for (int i = 0; i < 4; ++i) ASSERT_THAT(update(app, session, chunk), RvIs(CKR_OK)) << "chunk " << i;
  };

  fill(app_, session_, aes);
  EXPECT_THAT(update(app_, session_, chunk), RvIs(CKR_DEVICE_MEMORY));
  EXPECT_THAT(update(app_, session_, "x"), RvIs(CKR_OPERATION_NOT_INITIALIZED)) << "the operation ended";

  // Its 60 MiB came back; the budget is shared by the application's sessions.
  fill(app_, session_, aes);
  const uint64_t second = OpenSession(app_);
  ASSERT_THAT(RvOf(&Stub::DecryptInit, on(app_, second, InitRequest(gcm, aes))), RvIs(CKR_OK));
  EXPECT_THAT(update(app_, second, chunk), RvIs(CKR_DEVICE_MEMORY));

  // Another application has its own.
  const uint64_t other = Register();
  ASSERT_NE(other, 0u);
  const uint64_t other_session = OpenSession(other);
  const uint64_t others_key = SecretKey(other, other_session, CKM_AES_KEY_GEN, 32);
  fill(other, other_session, others_key);
  v1::AppRequest finalize;
  finalize.set_app(other);
  EXPECT_THAT(RvOf(&Stub::Finalize, finalize), RvIs(CKR_OK));

  // An output kept for a retry counts too.
  v1::Mechanism ecb = Mechanism(CKM_AES_ECB);
  ASSERT_THAT(RvOf(&Stub::EncryptInit, on(app_, second, InitRequest(ecb, aes))), RvIs(CKR_OK));
  EXPECT_THAT(RvOf(&Stub::Encrypt, on(app_, second, DataRequest(chunk, 1))), RvIs(CKR_DEVICE_MEMORY));

  // A final that fails ends the first session's operation and frees its share:
  // the output can be kept now, and the retry gets it.
  v1::DataReply reply;
  EXPECT_THAT(RvOf(&Stub::DecryptFinal, on(app_, session_, v1::OutputRequest()), &reply),
              RvIs(CKR_ENCRYPTED_DATA_INVALID));
  ASSERT_THAT(RvOf(&Stub::EncryptInit, on(app_, second, InitRequest(ecb, aes))), RvIs(CKR_OK));
  ASSERT_THAT(RvOf(&Stub::Encrypt, on(app_, second, DataRequest(chunk, 1)), &reply), RvIs(CKR_BUFFER_TOO_SMALL));
  EXPECT_EQ(reply.length(), chunk.size());
  ASSERT_THAT(RvOf(&Stub::Encrypt, on(app_, second, DataRequest(chunk, kMax)), &reply), RvIs(CKR_OK));
  EXPECT_EQ(reply.data().size(), chunk.size());
}

TEST_F(HostileRpcTest, MessagesOverTheLimitAreRefused) {
  // Over hsmd's 16 MiB.
  grpc::Status status = CreateDataObjectStatus("too big", MakeBytes(CKA_VALUE, std::string(17 << 20, 'v')));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
}

// Checking an imported RSA private key (recovering its primes, OpenSSL's
// pairwise check) costs more than cubic time in the size of its numbers:
// numbers no usable key has must be refused before that work
// (server/crypto/rsa_key.cc). No login: the key is checked before the login
// is (server/hsm_objects.cc), so any client can send one.
TEST_F(HostileRpcTest, CreateObjectRefusesHugeRsaPrivateKeysQuickly) {
  std::mt19937_64 random(11);
  // A big-endian odd number of `bytes` bytes with its top bit set.
  auto number = [&random](size_t bytes) {
    std::string value(bytes, '\0');
    for (char& byte : value) byte = static_cast<char>(random());
    value.front() = static_cast<char>(value.front() | 0x80);
    value.back() = static_cast<char>(value.back() | 1);
    return value;
  };
  auto below = [](std::string value) {  // a number below `value`
    value.front() = static_cast<char>(value.front() & 0x7f);
    return value;
  };
  const std::string e("\x01\x00\x01", 3);
  const std::string n_2048 = number(256);
  const std::string n_huge = number(16 << 10);  // 131072 bits, beyond every mechanism's 8192
  const std::string n_8192 = number(1024);
  struct Key {
    const char* what;
    Attributes material;
  };
  const std::vector<Key> keys = {
      {"huge modulus", {MakeBytes(CKA_MODULUS, n_huge), MakeBytes(CKA_PRIVATE_EXPONENT, below(n_huge))}},
      // In range, but d belongs to no key of n: the first base of the primes'
      // recovery shows it (server/crypto/rsa_crt.cc), not the 64th.
      {"8192-bit modulus, foreign private exponent",
       {MakeBytes(CKA_MODULUS, n_8192), MakeBytes(CKA_PRIVATE_EXPONENT, below(n_8192))}},
      {"huge private exponent", {MakeBytes(CKA_MODULUS, n_2048), MakeBytes(CKA_PRIVATE_EXPONENT, number(1 << 20))}},
      {"huge prime",
       {MakeBytes(CKA_MODULUS, n_2048), MakeBytes(CKA_PRIVATE_EXPONENT, below(n_2048)),
        MakeBytes(CKA_PRIME_1, number(1 << 20)), MakeBytes(CKA_PRIME_2, number(128)),
        MakeBytes(CKA_EXPONENT_1, number(128)), MakeBytes(CKA_EXPONENT_2, number(128)),
        MakeBytes(CKA_COEFFICIENT, number(128))}},
  };
  for (const Key& key : keys) {
    SCOPED_TRACE(key.what);
    Attributes attributes = {MakeUlong(CKA_CLASS, CKO_PRIVATE_KEY), MakeUlong(CKA_KEY_TYPE, CKK_RSA),
                             MakeBool(CKA_TOKEN, false), MakeBytes(CKA_PUBLIC_EXPONENT, e)};
    attributes.insert(attributes.end(), key.material.begin(), key.material.end());
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THAT(CreateObject(app_, session_, attributes), RvIs(CKR_ATTRIBUTE_VALUE_INVALID));
    EXPECT_LT(std::chrono::steady_clock::now() - start, kQuickly);
  }
}

// A public key needs no such check: one far too long for any mechanism is
// stored as it is (bounded by the message size), and refused when used.
TEST_F(HostileRpcTest, AHugeRsaPublicKeyIsStoredButNotUsable) {
  std::string modulus(4 << 20, '\x5a');  // 32 Mbit
  modulus.front() = '\xc5';
  modulus.back() = '\x01';
  uint64_t key = 0;
  ASSERT_THAT(
      CreateObject(app_, session_,
                   {MakeUlong(CKA_CLASS, CKO_PUBLIC_KEY), MakeUlong(CKA_KEY_TYPE, CKK_RSA), MakeBool(CKA_TOKEN, false),
                    MakeBytes(CKA_MODULUS, modulus), MakeBytes(CKA_PUBLIC_EXPONENT, std::string("\x01\x00\x01", 3))},
                   &key),
      RvIs(CKR_OK));
  ExpectServes(app_, session_);
  EXPECT_THAT(RvOf(&Stub::VerifyInit, InitRequest(Mechanism(CKM_SHA256_RSA_PKCS), key)), RvIs(CKR_KEY_SIZE_RANGE));
  EXPECT_THAT(RvOf(&Stub::EncryptInit, InitRequest(Mechanism(CKM_RSA_PKCS), key)), RvIs(CKR_KEY_SIZE_RANGE));
}

// ---------------------------------------------------------------- 8. searches

TEST_F(HostileRpcTest, FindObjectsTakesAbsurdCounts) {
  const std::string label = "find " + std::to_string(app_);  // this test's objects only
  std::vector<uint64_t> made(3);
  for (uint64_t& object : made) ASSERT_THAT(CreateObject(app_, session_, DataObject(label), &object), RvIs(CKR_OK));
  auto init = Addressed<v1::FindObjectsInitRequest>(app_, session_);
  *init.add_template_() = MakeBytes(CKA_LABEL, label);
  auto find = Addressed<v1::FindObjectsRequest>(app_, session_);
  auto final_request = Addressed<v1::SessionRequest>(app_, session_);

  // Nothing prefetched: the search stays open in hsmd.
  init.set_prefetch(0);
  v1::FindObjectsInitReply started;
  ASSERT_THAT(RvOf(&Stub::FindObjectsInit, init, &started), RvIs(CKR_OK));
  EXPECT_THAT(started.objects(), IsEmpty());
  EXPECT_FALSE(started.complete());
  EXPECT_THAT(RvOf(&Stub::FindObjectsInit, init), RvIs(CKR_OPERATION_ACTIVE));
  v1::FindObjectsReply found;
  find.set_max_objects(0);
  EXPECT_THAT(RvOf(&Stub::FindObjects, find, &found), RvIs(CKR_OK));
  EXPECT_THAT(found.objects(), IsEmpty());
  find.set_max_objects(kMax);
  found.Clear();
  EXPECT_THAT(RvOf(&Stub::FindObjects, find, &found), RvIs(CKR_OK));
  EXPECT_THAT(found.objects(), ::testing::UnorderedElementsAreArray(made));
  found.Clear();
  EXPECT_THAT(RvOf(&Stub::FindObjects, find, &found), RvIs(CKR_OK));
  EXPECT_THAT(found.objects(), IsEmpty());
  EXPECT_THAT(RvOf(&Stub::FindObjectsFinal, final_request), RvIs(CKR_OK));
  EXPECT_THAT(RvOf(&Stub::FindObjectsFinal, final_request), RvIs(CKR_OPERATION_NOT_INITIALIZED));

  // Everything prefetched: complete, and hsmd keeps no search.
  init.set_prefetch(kMax);
  started.Clear();
  ASSERT_THAT(RvOf(&Stub::FindObjectsInit, init, &started), RvIs(CKR_OK));
  EXPECT_THAT(started.objects(), ::testing::UnorderedElementsAreArray(made));
  EXPECT_TRUE(started.complete());
  EXPECT_THAT(RvOf(&Stub::FindObjects, find), RvIs(CKR_OPERATION_NOT_INITIALIZED));

  // A template naming the label 100,000 times, once with another value:
  // it matches nothing.
  for (int i = 0; i < 100000; ++i) *init.add_template_() = MakeBytes(CKA_LABEL, label);
  started.Clear();
  ASSERT_THAT(RvOf(&Stub::FindObjectsInit, init, &started), RvIs(CKR_OK));
  EXPECT_THAT(started.objects(), ::testing::UnorderedElementsAreArray(made));
  *init.add_template_() = MakeBytes(CKA_LABEL, "another label");
  started.Clear();
  ASSERT_THAT(RvOf(&Stub::FindObjectsInit, init, &started), RvIs(CKR_OK));
  EXPECT_THAT(started.objects(), IsEmpty());
  EXPECT_TRUE(started.complete());
}

// ---------------------------------------------------------------- 9. not a protobuf

TEST_F(HostileRpcTest, BytesThatAreNotAProtobufAreRefused) {
  // The methods, each with its request message.
  std::vector<std::pair<std::string, std::unique_ptr<google::protobuf::Message>>> methods;
  methods.emplace_back("/hsm.v1.Pkcs11/Initialize", std::make_unique<v1::InitializeRequest>());
  methods.emplace_back("/hsm.v1.Pkcs11/GenerateRandom", std::make_unique<v1::GenerateRandomRequest>());
  methods.emplace_back("/hsm.v1.Pkcs11/Login", std::make_unique<v1::LoginRequest>());
  methods.emplace_back("/hsm.v1.Pkcs11/CreateObject", std::make_unique<v1::CreateObjectRequest>());
  methods.emplace_back("/hsm.v1.Pkcs11/Sign", std::make_unique<v1::DataRequest>());
  auto parses_as_any = [&](const std::string& bytes) {
    for (auto& [name, message] : methods) {
      if (message->ParseFromString(bytes)) return true;
    }
    return false;
  };
  std::vector<std::string> garbage = {
      std::string(11, '\xff'),               // a varint longer than 10 bytes
      std::string("\x1a\x7f", 2) + "short",  // a field longer than the message
      std::string("\x00\x01", 2),            // field number 0
  };
  // A real request cut short.
  auto real = Addressed<v1::CreateObjectRequest>(app_, session_);
  for (const v1::Attribute& attribute : DataObject("cut short")) *real.add_template_() = attribute;
  const std::string serialized = real.SerializeAsString();
  garbage.push_back(serialized.substr(0, serialized.size() - 3));
  // Random bytes may happen to parse: keep those that parse as no request.
  std::mt19937_64 random(3);
  while (garbage.size() < 24) {
    std::string bytes(1 + random() % 512, '\0');
    for (char& byte : bytes) byte = static_cast<char>(random());
    if (!parses_as_any(bytes)) garbage.push_back(bytes);
  }

  for (const auto& [method, message] : methods) {
    for (size_t i = 0; i < garbage.size(); ++i) {
      SCOPED_TRACE(method + " garbage " + std::to_string(i));
      ASSERT_FALSE(parses_as_any(garbage[i]));
      // gRPC refuses what does not parse before hsmd's code sees it.
      grpc::Status status = SendBytes(method, garbage[i]);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL) << status.error_message();
    }
  }
  // Every method is still served: the refused calls did not take its place.
  ExpectServes(app_, session_);
  uint64_t object = 0;
  EXPECT_THAT(CreateObject(app_, session_, DataObject("after garbage"), &object), RvIs(CKR_OK));
  EXPECT_THAT(Login(app_, session_, hsmd_->user_pin), RvIs(CKR_OK));
  EXPECT_THAT(RvOf(&Stub::DigestInit, InitRequest(Mechanism(CKM_SHA256), 0)), RvIs(CKR_OK));
  v1::DataReply digest;
  EXPECT_THAT(RvOf(&Stub::Sign, DataRequest("abc", kMax), &digest), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  const uint64_t another = Register();
  ASSERT_NE(another, 0u);
  v1::AppRequest finalize;
  finalize.set_app(another);
  EXPECT_THAT(RvOf(&Stub::Finalize, finalize), RvIs(CKR_OK));
}

// ---------------------------------------------------------------- leaks

TEST_F(HostileRpcTest, RefusalsLeakNoPinOrKeyMaterial) {
  const std::string wrong_pin = "wrong-pin-marker-8e1f";
  const std::string key_value = "key-material-marker-5b2c-0123456";  // 32 bytes: an AES-256 key
  ASSERT_EQ(key_value.size(), 32u);
  // Wrong PINs, and the right one where it cannot work.
  EXPECT_THAT(Login(app_, session_, wrong_pin), RvIs(CKR_PIN_INCORRECT));
  EXPECT_THAT(Login(app_, kMax, hsmd_->user_pin), RvIs(CKR_SESSION_HANDLE_INVALID));
  auto so_login = Addressed<v1::LoginRequest>(app_, session_);
  so_login.set_user_type(0x7777);
  so_login.set_pin(hsmd_->so_pin);
  EXPECT_THAT(RvOf(&Stub::Login, so_login), RvIs(CKR_USER_TYPE_INVALID));
  auto set_pin = Addressed<v1::SetPinRequest>(app_, session_);
  set_pin.set_old_pin(wrong_pin);
  set_pin.set_new_pin(hsmd_->user_pin + "-new");
  EXPECT_THAT(RvOf(&Stub::SetPIN, set_pin), RvIs(CKR_PIN_INCORRECT));
  // A PIN of 1 MiB is one more wrong PIN, checked as fast as a short one
  // (PBKDF2 hashes its key once).
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(Login(app_, session_, std::string(1 << 20, 'p') + wrong_pin), RvIs(CKR_PIN_INCORRECT));
  EXPECT_LT(std::chrono::steady_clock::now() - start, kQuickly);
  // The right PIN resets the failure count the wrong ones raised.
  ASSERT_THAT(Login(app_, session_, hsmd_->user_pin), RvIs(CKR_OK));
  // Key material in refused templates and in refused operations.
  uint64_t key = 0;
  EXPECT_THAT(CreateObject(app_, session_,
                           {MakeUlong(CKA_CLASS, CKO_SECRET_KEY), MakeUlong(CKA_KEY_TYPE, CKK_AES),
                            MakeBool(CKA_TOKEN, false), MakeBytes(CKA_VALUE, key_value.substr(1))}),
              RvIs(CKR_ATTRIBUTE_VALUE_INVALID));
  ASSERT_THAT(CreateObject(app_, session_,
                           {MakeUlong(CKA_CLASS, CKO_SECRET_KEY), MakeUlong(CKA_KEY_TYPE, CKK_AES),
                            MakeBool(CKA_TOKEN, false), MakeBytes(CKA_VALUE, key_value)},
                           &key),
              RvIs(CKR_OK));
  v1::AttributeResult result;
  v1::OutputSpec output;
  output.set_buffer_len(kMax);
  ASSERT_THAT(GetAttribute(app_, session_, key, CKA_VALUE, output, &result), RvIs(CKR_OK));
  EXPECT_THAT(result.rv(), RvIs(CKR_ATTRIBUTE_SENSITIVE));
  EXPECT_FALSE(result.has_attribute());
  auto wrap = Addressed<v1::WrapKeyRequest>(app_, session_);
  *wrap.mutable_mechanism() = Mechanism(CKM_AES_KEY_WRAP);
  wrap.set_wrapping_key(key);
  wrap.set_key(key);
  wrap.mutable_output()->set_buffer_len(kMax);
  v1::DataReply wrapped;
  EXPECT_THAT(RvOf(&Stub::WrapKey, wrap, &wrapped), RvIs(CKR_KEY_UNEXTRACTABLE));
  EXPECT_THAT(wrapped.data(), IsEmpty());
  v1::Mechanism bad_gcm = Mechanism(CKM_AES_GCM);
  bad_gcm.mutable_gcm()->set_iv(key_value);
  EXPECT_THAT(RvOf(&Stub::EncryptInit, InitRequest(bad_gcm, key)), RvIs(CKR_MECHANISM_PARAM_INVALID));

  for (const std::string& file : {hsmd_->Log(), ReadFile(hsmd_->data_dir() + "/audit.log")}) {
    EXPECT_THAT(file, Not(HasSubstr(wrong_pin)));
    EXPECT_THAT(file, Not(HasSubstr(hsmd_->user_pin)));
    EXPECT_THAT(file, Not(HasSubstr(hsmd_->so_pin)));
    EXPECT_THAT(file, Not(HasSubstr(key_value.substr(0, 16))));
    EXPECT_THAT(file, Not(HasSubstr(absl::BytesToHexString(key_value.substr(0, 16)))));
  }
}

}  // namespace
}  // namespace hsm::testing
