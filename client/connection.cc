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

// How long a deferred close may wait for the application's next call before
// the heartbeat thread sends it: the session counts against the tenant's
// session quota until hsmd has it.
constexpr std::chrono::milliseconds kCloseWait(1000);

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

CK_RV Connection::EnsureRegistered(uint64_t& app, uint64_t* epoch) {
  // Without the epoch, the registered app id alone needs no lock. The epoch
  // is read with the app id it goes with: Forget and a new registration
  // change them under the lock.
  if (epoch == nullptr) {
    app = app_.load(std::memory_order_acquire);
    if (app != 0) return CKR_OK;
  }
  std::lock_guard<std::mutex> lock(register_mutex_);
  if (epoch != nullptr) *epoch = epoch_.load(std::memory_order_acquire);
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
  data_calls_close_sessions_.store(reply.data_calls_close_sessions(), std::memory_order_relaxed);
  spare_sessions_allowed_.store(reply.spare_sessions_allowed(), std::memory_order_relaxed);
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
  auto next_heartbeat = std::chrono::steady_clock::now() + std::chrono::milliseconds(heartbeat_interval_ms_);
  while (!stopping_) {
    // Wakes at least every kCloseWait to send closes the application left
    // waiting (it made no call since).
    heartbeat_cv_.wait_until(lock, std::min(next_heartbeat, std::chrono::steady_clock::now() + kCloseWait));
    if (stopping_) break;
    if (app_.load(std::memory_order_acquire) == 0) continue;  // nothing to keep alive
    const bool heartbeat_due = std::chrono::steady_clock::now() >= next_heartbeat;
    lock.unlock();
    if (heartbeat_due) {
      v1::AppRequest request;
      v1::StatusReply reply;
      if (Call(&v1::Pkcs11::Stub::PrepareAsyncHeartbeat, request, &reply) == CKR_OK) {  // sends the queued closes too
        spare_sessions_allowed_.store(reply.spare_sessions_allowed(), std::memory_order_relaxed);
      }
    } else if (ClosesWaited(kCloseWait)) {
      SendQueuedCloses();
    }
    lock.lock();
    if (heartbeat_due) {
      next_heartbeat = std::chrono::steady_clock::now() + std::chrono::milliseconds(heartbeat_interval_ms_);
    }
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
  SendQueuedCloses();
  uint64_t app = app_.exchange(0);
  if (app == 0) return;
  v1::AppRequest request;
  request.set_app(app);
  v1::StatusReply reply;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1000));
  stub_->Finalize(&context, request, &reply);  // hsmd drops us by timeout anyway
}

void Connection::QueueClose(uint64_t session, uint64_t epoch) {
  const uint64_t app = app_.load(std::memory_order_acquire);
  // A session of a registration hsmd forgot is closed already.
  if (app == 0 || epoch != epoch_.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(close_queue_mutex_);
  close_queue_.push_back(QueuedClose{app, session, std::chrono::steady_clock::now()});
  unsent_closes_.fetch_add(1, std::memory_order_release);
}

std::vector<Connection::QueuedClose> Connection::TakeQueuedCloses(uint64_t app) {
  std::vector<QueuedClose> taken, kept;
  {
    std::lock_guard<std::mutex> lock(close_queue_mutex_);
    taken.swap(close_queue_);
  }
  size_t dropped = 0;
  for (QueuedClose& close : taken) {
    if (close.app == app) {
      kept.push_back(close);
    } else {
      ++dropped;
    }
  }
  unsent_closes_.fetch_sub(dropped, std::memory_order_release);
  return kept;
}

void Connection::Requeue(const std::vector<QueuedClose>& closes) {
  std::lock_guard<std::mutex> lock(close_queue_mutex_);
  close_queue_.insert(close_queue_.begin(), closes.begin(), closes.end());
}

bool Connection::ClosesWaited(std::chrono::milliseconds age) {
  if (unsent_closes_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<std::mutex> lock(close_queue_mutex_);
  return !close_queue_.empty() && std::chrono::steady_clock::now() - close_queue_.front().queued >= age;
}

void Connection::SendQueuedCloses() {
  if (unsent_closes_.load(std::memory_order_acquire) == 0) return;
  std::lock_guard<std::mutex> order(close_order_);
  std::vector<QueuedClose> closes = TakeQueuedCloses(app_.load(std::memory_order_acquire));
  for (size_t i = 0; i < closes.size(); ++i) {
    v1::SessionRequest request;
    request.set_app(closes[i].app);
    request.set_session(closes[i].session);
    v1::StatusReply reply;
    grpc::ClientContext context;
    context.set_deadline(DeadlineFor(Deadline::kNormal));
    grpc::Status status = stub_->CloseSession(&context, request, &reply);
    if (status.ok()) {
      NoteReachable();  // its rv does not matter: the session is gone either way
    } else if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      Forget(closes[i].app);  // hsmd forgot the application, and its sessions: the rest are moot
      break;
    } else {
      // hsmd may not have it: keep this close and the rest for the next call.
      TransportFailure(status);
      Requeue(std::vector<QueuedClose>(closes.begin() + i, closes.end()));
      unsent_closes_.fetch_sub(i, std::memory_order_release);
      return;
    }
  }
  unsent_closes_.fetch_sub(closes.size(), std::memory_order_release);
}

CK_RV Connection::OpenSessionWithCloses(v1::OpenSessionRequest& request, v1::OpenSessionReply* reply,
                                        uint64_t* epoch) {
  return SendCarryingCloses(&v1::Pkcs11::Stub::PrepareAsyncOpenSession, request, reply, CallKind::kApplication,
                            Deadline::kNormal, epoch);
}

bool Connection::DataCallCarriesCloses(Rpc<v1::DataRequest, v1::DataReply> rpc) const {
  // hsmd serves no dual-function call, so those would drop the closes.
  return data_calls_close_sessions_.load(std::memory_order_relaxed) &&
         rpc != &v1::Pkcs11::Stub::PrepareAsyncDigestEncryptUpdate && rpc != &v1::Pkcs11::Stub::PrepareAsyncDecryptDigestUpdate &&
         rpc != &v1::Pkcs11::Stub::PrepareAsyncSignEncryptUpdate && rpc != &v1::Pkcs11::Stub::PrepareAsyncDecryptVerifyUpdate;
}

}  // namespace hsm::client
