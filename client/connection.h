// The client library's link to hsmd: one gRPC channel, the application id hsmd
// gave at registration, and a heartbeat that keeps an idle application alive.
//
// Every RPC goes through Call(), which fills in the application id, applies
// the deadline and turns gRPC failures into CK_RVs in one place:
//   UNAVAILABLE, DEADLINE_EXCEEDED, ... -> CKR_DEVICE_ERROR (said once on stderr);
//     the next call first waits up to connect_wait_ms for the channel to come
//     back. A call that may have reached hsmd is never sent twice.
//   UNIMPLEMENTED                       -> CKR_FUNCTION_NOT_SUPPORTED
//   FAILED_PRECONDITION (hsmd does not know the application: it restarted or
//   dropped us) -> register again; a session-bound call then reports
//   CKR_SESSION_HANDLE_INVALID, any other call is retried once.
// Registration is lazy: C_Initialize needs no server, the first call does.
//
// C_CloseSession's RPC is deferred (QueueClose): the closes travel with the
// next OpenSession (OpenSessionRequest.close_first), or are sent as
// CloseSession RPCs before any other call goes out, by the heartbeat thread
// once they have waited a second, and at C_Finalize. So hsmd has applied
// every close before it answers any later call of the application.
#ifndef HSM_CLIENT_CONNECTION_H_
#define HSM_CLIENT_CONNECTION_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "client/config.h"
#include "client/reply_wait.h"
#include "proto/hsm/v1/pkcs11.grpc.pb.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::client {

namespace v1 = ::hsm::v1;

// A method of hsmd, as the stub's PrepareAsync<Method> member: calls are
// sent asynchronously so that the caller can poll for the reply
// (client/reply_wait.h).
template <typename Request, typename Reply>
using Rpc = std::unique_ptr<grpc::ClientAsyncResponseReader<Reply>> (v1::Pkcs11::Stub::*)(grpc::ClientContext*,
                                                                                          const Request&,
                                                                                          grpc::CompletionQueue*);

enum class CallKind {
  kApplication,   // not tied to a session: retried once after re-registering
  kSession,       // on a session of the current registration
};

enum class Deadline { kNormal, kLong };

class Connection {
 public:
  explicit Connection(const Config& config);
  ~Connection();  // stops the heartbeat; does not tell hsmd (see Finalize)

  // The current registration; sessions opened under another are stale.
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }

  // Whether hsmd lets the library keep spare sessions (no session quota for
  // the tenant, as of the registration or the last heartbeat).
  bool spare_sessions_allowed() const { return spare_sessions_allowed_.load(std::memory_order_relaxed); }

  // Sends `request`. The queued closes go first (an OpenSession carries
  // them; see OpenSessionWithCloses).
  template <typename Request, typename Reply>
  CK_RV Call(Rpc<Request, Reply> rpc, Request& request, Reply* reply,
             CallKind kind = CallKind::kApplication, Deadline deadline = Deadline::kNormal) {
    static_assert(!std::is_same_v<Request, v1::OpenSessionRequest>, "use OpenSessionWithCloses");
    if constexpr (std::is_same_v<Request, v1::DataRequest> && std::is_same_v<Reply, v1::DataReply>) {
      // Data calls carry the closes too (DataRequest.close_first).
      if (DataCallCarriesCloses(rpc)) return SendCarryingCloses(rpc, request, reply, kind, deadline);
    }
    SendQueuedCloses();
    return Send(rpc, request, reply, kind, deadline);
  }

  // C_OpenSession's RPC, carrying the queued closes. `*epoch` is the
  // registration the session belongs to: the one the call found, or the one
  // it made if hsmd turned out to have restarted.
  CK_RV OpenSessionWithCloses(v1::OpenSessionRequest& request, v1::OpenSessionReply* reply, uint64_t* epoch);

  // Defers the RPC of C_CloseSession on hsmd's session `session`, opened
  // in registration `epoch`.
  void QueueClose(uint64_t session, uint64_t epoch);
  // Sends the queued closes now, as CloseSession RPCs.
  void SendQueuedCloses();

  // Tells hsmd the application ends (best effort, short deadline).
  void Finalize();

 private:
  // Whether `rpc`'s DataRequest may carry the queued closes: hsmd serves it
  // and said it applies them (InitializeReply.data_calls_close_sessions).
  bool DataCallCarriesCloses(Rpc<v1::DataRequest, v1::DataReply> rpc) const;

  // Send, with the queued closes in `request`'s close_first: the order lock
  // is held until hsmd has them, so no call overtakes them.
  template <typename Request, typename Reply>
  CK_RV SendCarryingCloses(Rpc<Request, Reply> rpc, Request& request, Reply* reply, CallKind kind,
                           Deadline deadline, uint64_t* epoch = nullptr) {
    std::unique_lock<std::mutex> order(close_order_, std::defer_lock);
    std::vector<QueuedClose> closes;
    if (unsent_closes_.load(std::memory_order_acquire) != 0) {
      order.lock();
      const uint64_t app = app_.load(std::memory_order_acquire);
      closes = TakeQueuedCloses(app);
      request.set_app(app);  // Send drops the closes if the registration changes
      for (const QueuedClose& close : closes) request.add_close_first(close.session);
    }
    CK_RV rv = Send(rpc, request, reply, kind, deadline, epoch);
    if (rv == CKR_DEVICE_ERROR && !closes.empty()) {
      // A transport failure, or a fault inside hsmd: either way hsmd may not
      // have closed them.
      Requeue(closes);
      return rv;
    }
    unsent_closes_.fetch_sub(closes.size(), std::memory_order_release);
    return rv;
  }

  // `*epoch`, if given, is set to the registration the RPC went to.
  template <typename Request, typename Reply>
  CK_RV Send(Rpc<Request, Reply> rpc, Request& request, Reply* reply, CallKind kind, Deadline deadline,
             uint64_t* epoch = nullptr) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (unreachable_reported_.load(std::memory_order_relaxed)) AwaitReconnect();
      uint64_t app = 0;
      CK_RV rv = EnsureRegistered(app, epoch);
      if (rv != CKR_OK) return rv;
      if constexpr (std::is_same_v<Request, v1::OpenSessionRequest> || std::is_same_v<Request, v1::DataRequest>) {
        // The closes it carries belong to the registration in `app` when it
        // was built; never send them to another one.
        if (request.app() != app) request.clear_close_first();
      }
      request.set_app(app);
      grpc::ClientContext context;
      context.set_deadline(DeadlineFor(deadline));
      grpc::Status status = Exchange(rpc, context, request, reply);
      if (status.ok()) {
        NoteReachable();
        return static_cast<CK_RV>(reply->rv());
      }
      if (status.error_code() != grpc::StatusCode::FAILED_PRECONDITION) return TransportFailure(status);
      Forget(app);
      if (kind == CallKind::kSession) return CKR_SESSION_HANDLE_INVALID;
      reply->Clear();
    }
    return CKR_DEVICE_ERROR;
  }

  // One RPC: sends `request` and waits for the reply (reply_wait.h).
  template <typename Request, typename Reply>
  grpc::Status Exchange(Rpc<Request, Reply> rpc, grpc::ClientContext& context, const Request& request,
                        Reply* reply) {
    grpc::CompletionQueue queue;
    std::unique_ptr<grpc::ClientAsyncResponseReader<Reply>> call = (stub_.get()->*rpc)(&context, request, &queue);
    call->StartCall();
    grpc::Status status;
    call->Finish(reply, &status, &status);
    std::chrono::microseconds spin(config_.reply_spin_us);
    if constexpr (std::is_same_v<Reply, v1::DataReply>) {
      if (CoresWereBusy()) spin = std::chrono::microseconds(0);
    }
    AwaitReply(queue, spin);
    if constexpr (std::is_same_v<Reply, v1::DataReply>) {
      if (status.ok() && reply->cores_busy()) NoteCoresBusy();
    }
    return status;
  }

  // A deferred close: hsmd's session and the application it belongs to.
  struct QueuedClose {
    uint64_t app = 0;
    uint64_t session = 0;
    std::chrono::steady_clock::time_point queued;
  };
  // Takes the queued closes; those of another registration are dropped
  // (hsmd closed those sessions when it forgot it).
  std::vector<QueuedClose> TakeQueuedCloses(uint64_t app);
  // Puts back closes that may not have reached hsmd. Sending one twice is
  // harmless: hsmd never reuses a session id within an application.
  void Requeue(const std::vector<QueuedClose>& closes);
  // Whether the oldest queued close has waited `age` or longer.
  bool ClosesWaited(std::chrono::milliseconds age);

  // The registered application id, registering first if needed, and (if
  // `epoch` is given) its registration's epoch.
  CK_RV EnsureRegistered(uint64_t& app, uint64_t* epoch = nullptr);
  // hsmd no longer knows `app`: drop it (if still current) and start a new epoch.
  void Forget(uint64_t app);
  CK_RV TransportFailure(const grpc::Status& status);
  void NoteReachable();
  // After a transport failure: wait (bounded) for the channel to connect
  // again. Waiting is what drives gRPC's reconnect attempt; calls that fail
  // fast would leave it to a poller that runs only every five seconds.
  void AwaitReconnect();
  std::chrono::system_clock::time_point DeadlineFor(Deadline deadline) const;
  void HeartbeatLoop();
  void StopHeartbeat();

  const Config config_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Pkcs11::Stub> stub_;

  std::atomic<uint64_t> app_{0};
  std::atomic<uint64_t> epoch_{1};
  std::mutex register_mutex_;
  std::atomic<bool> unreachable_reported_{false};

  // Held from the moment queued closes are taken until hsmd has them, so a
  // call that finds closes pending waits for them instead of overtaking.
  std::mutex close_order_;
  std::mutex close_queue_mutex_;
  std::vector<QueuedClose> close_queue_;  // guarded by close_queue_mutex_
  // Closes queued or on their way: the fast path of every call reads it.
  std::atomic<size_t> unsent_closes_{0};
  // From the registration: data calls may carry closes.
  std::atomic<bool> data_calls_close_sessions_{false};
  // From the registration and every heartbeat (session_pool.h).
  std::atomic<bool> spare_sessions_allowed_{false};

  std::mutex heartbeat_mutex_;
  std::condition_variable heartbeat_cv_;
  bool stopping_ = false;
  int64_t heartbeat_interval_ms_ = 0;
  std::thread heartbeat_;
};

}  // namespace hsm::client

#endif  // HSM_CLIENT_CONNECTION_H_
