#include "client/connection.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "client/log.h"

namespace hsm::client {
namespace {

constexpr uint32_t kLibraryMajor = 0;
constexpr uint32_t kLibraryMinor = 1;

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

std::string Hostname() {
  char name[256] = {0};
  gethostname(name, sizeof(name) - 1);
  return name;
}

}  // namespace

Connection::Connection(const Config& config) : config_(config) {
  grpc::ChannelArguments args;
  // Reconnect quickly after hsmd restarts instead of gRPC's default backoff
  // of up to two minutes. (GRPC_ARG_MIN_RECONNECT_BACKOFF_MS is left alone:
  // gRPC also uses it as the connect timeout, which a TLS handshake over a
  // slow network needs.)
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxReceiveMessageSize(16 << 20);
  args.SetMaxSendMessageSize(16 << 20);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (config_.tls()) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadFile(config_.ca_file);
    tls.pem_cert_chain = ReadFile(config_.cert_file);
    tls.pem_private_key = ReadFile(config_.key_file);
    credentials = grpc::SslCredentials(tls);
    if (!config_.server_name.empty()) args.SetSslTargetNameOverride(config_.server_name);
  }
  channel_ = grpc::CreateCustomChannel(config_.server, credentials, args);
  stub_ = v1::Pkcs11::NewStub(channel_);
}

Connection::~Connection() { StopHeartbeat(); }

std::chrono::system_clock::time_point Connection::DeadlineFor(Deadline deadline) const {
  int64_t ms = deadline == Deadline::kLong ? config_.long_deadline_ms : config_.deadline_ms;
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

CK_RV Connection::EnsureRegistered(uint64_t& app) {
  app = app_.load(std::memory_order_acquire);
  if (app != 0) return CKR_OK;
  std::lock_guard<std::mutex> lock(register_mutex_);
  app = app_.load(std::memory_order_acquire);
  if (app != 0) return CKR_OK;

  v1::InitializeRequest request;
  request.set_pid(static_cast<uint64_t>(getpid()));
  request.set_hostname(Hostname());
  request.mutable_library_version()->set_major(kLibraryMajor);
  request.mutable_library_version()->set_minor(kLibraryMinor);
  v1::InitializeReply reply;
  grpc::ClientContext context;
  context.set_deadline(DeadlineFor(Deadline::kNormal));
  grpc::Status status = stub_->Initialize(&context, request, &reply);
  if (!status.ok()) return TransportFailure(status);
  if (reply.rv() != CKR_OK) return static_cast<CK_RV>(reply.rv());
  NoteReachable();
  app = reply.app();
  app_.store(app, std::memory_order_release);
  LogDebug("registered with hsmd at " + config_.server);

  std::lock_guard<std::mutex> heartbeat_lock(heartbeat_mutex_);
  heartbeat_interval_ms_ = static_cast<int64_t>(reply.heartbeat_interval_ms());
  if (!heartbeat_.joinable() && heartbeat_interval_ms_ > 0 && !stopping_) {
    heartbeat_ = std::thread([this] { HeartbeatLoop(); });
  }
  return CKR_OK;
}

void Connection::Forget(uint64_t app) {
  std::lock_guard<std::mutex> lock(register_mutex_);
  uint64_t expected = app;
  if (app_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) {
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    LogError("hsmd at " + config_.server +
             " no longer knows this application (it restarted?): sessions are closed, registering again");
  }
}

CK_RV Connection::TransportFailure(const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) return CKR_FUNCTION_NOT_SUPPORTED;
  if (!unreachable_reported_.exchange(true)) {
    LogError("cannot use hsmd at " + config_.server + ": " + status.error_message() +
             " (gRPC code " + std::to_string(status.error_code()) + ")");
  }
  return CKR_DEVICE_ERROR;
}

void Connection::NoteReachable() {
  if (unreachable_reported_.exchange(false)) LogError("hsmd at " + config_.server + " reachable again");
}

void Connection::AwaitReconnect() {
  auto state = channel_->GetState(/*try_to_connect=*/true);
  if (state == GRPC_CHANNEL_READY) return;
  channel_->WaitForConnected(std::chrono::system_clock::now() +
                             std::chrono::milliseconds(std::min(config_.connect_wait_ms, config_.deadline_ms)));
}

void Connection::HeartbeatLoop() {
  std::unique_lock<std::mutex> lock(heartbeat_mutex_);
  while (!stopping_) {
    heartbeat_cv_.wait_for(lock, std::chrono::milliseconds(heartbeat_interval_ms_));
    if (stopping_) break;
    if (app_.load(std::memory_order_acquire) == 0) continue;  // nothing to keep alive
    lock.unlock();
    v1::AppRequest request;
    v1::StatusReply reply;
    Call(&v1::Pkcs11::Stub::Heartbeat, request, &reply);
    lock.lock();
  }
}

void Connection::StopHeartbeat() {
  {
    std::lock_guard<std::mutex> lock(heartbeat_mutex_);
    stopping_ = true;
  }
  heartbeat_cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

void Connection::Finalize() {
  StopHeartbeat();
  uint64_t app = app_.exchange(0);
  if (app == 0) return;
  v1::AppRequest request;
  request.set_app(app);
  v1::StatusReply reply;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1000));
  stub_->Finalize(&context, request, &reply);  // hsmd drops us by timeout anyway
}

}  // namespace hsm::client
