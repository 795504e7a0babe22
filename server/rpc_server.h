// hsmd's threading model: unary RPCs served with gRPC's asynchronous API on
// one completion queue that a few threads share in the leader/followers
// pattern.
//
// One thread at a time, the leader, polls the queue. When it takes a call it
// runs the handler itself, so a call never waits for another thread to wake
// up: on a virtual machine a wake-up costs 20 to 50 µs, as much as the rest
// of a round trip (gRPC's callback and synchronous servers hand each call
// between two or three threads). Before a handler that may take long (a
// private-key operation, an LMDB write, PIN hashing) the leader first hands
// polling over to a follower, so other calls are still taken meanwhile; a
// call that finds out only while running (an RSA signature) does the same
// through server/blocking.h.
// After a call the leader polls without sleeping for a short while
// (`spin`), so that the next call of a busy client is taken without a
// wake-up either.
// When the slow computations already running fill every core, a thread
// starting one more gives up polling without waking a follower: another
// poller could only take the cores' time, and a wake-up costs as much as
// the round trip. The next thread to finish polls instead, so calls wait
// in the socket only while every core is computing anyway.
// A call that hashes a PIN (kLong) takes tens of ms or more every time, and
// one that generates or imports an RSA key says so (LongCall, blocking.h):
// if nobody polls and no follower waits to, every other thread is inside a
// call, and the server starts one more (up to kMaxExtraThreads) rather than
// let one client's long calls hold every other client's quick calls.
// A thread started so ends once it finishes a call and finds another
// thread polling and a follower waiting. Writes and signatures, which take
// far less, start none: on a busy machine the extra thread's wake-ups would
// cost more than the wait.
#ifndef HSM_SERVER_RPC_SERVER_H_
#define HSM_SERVER_RPC_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "server/blocking.h"

namespace hsm::server {

// kQuick: served by the polling thread itself; kMayBlock: it hands off
// polling first (LMDB writes, key generation); kLong: the same, and every
// time long enough (PIN hashing) that a thread is started if none can take
// over polling.
enum class CallCost { kQuick, kMayBlock, kLong };

// The generated `Request<Method>` member of an AsyncService.
template <typename Owner, typename Request, typename Reply>
using AsyncRequestMethod = void (Owner::*)(grpc::ServerContext*, Request*, grpc::ServerAsyncResponseWriter<Reply>*,
                                           grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*);

template <typename Request, typename Reply>
using UnaryHandler = std::function<grpc::Status(grpc::ServerContext&, const Request&, Reply*)>;

// Keeps a parameter out of template argument deduction (std::type_identity).
template <typename T>
struct NonDeduced {
  using type = T;
};

class RpcServer {
 public:
  // The most threads kLong calls can make the server start beyond Options.threads.
  static constexpr int kMaxExtraThreads = 60;

  struct Options {
    int threads = 4;
    absl::Duration spin = absl::Microseconds(100);
  };

  // Adds the completion queue to `builder`; register the AsyncServices on it
  // too, then Route every method of them before Start.
  RpcServer(grpc::ServerBuilder& builder, Options options);
  ~RpcServer();

  // Serves `service`'s method `request` (e.g. &v1::Pkcs11::AsyncService::RequestSign)
  // with `handler`. Every method of a registered AsyncService must be routed:
  // calls of a method nobody requests would wait forever.
  template <typename Service, typename Owner, typename Request, typename Reply>
  void Route(Service* service, AsyncRequestMethod<Owner, Request, Reply> request, CallCost cost,
             typename NonDeduced<UnaryHandler<Request, Reply>>::type handler);

  // After `server` is built and started: waits for the first call of every
  // route and starts the threads.
  void Start();
  // After the grpc::Server's Shutdown: drains the queue and joins the threads.
  void Stop();

  // What the threads take from the queue: a call that arrived, or one whose
  // reply has gone.
  class Event {
   public:
    virtual ~Event() = default;
    // What running this event may cost (only a new call's handler may block).
    virtual CallCost Cost(bool ok) const = 0;
    virtual void Proceed(bool ok) = 0;
  };

 private:
  template <typename Request, typename Reply>
  struct RouteSpec;
  template <typename Request, typename Reply>
  class UnaryCall;

  // `extra`: started by a kLong call; it ends when others can lead.
  void Loop(bool extra);
  // The leader lets a follower poll (it is about to run something slow);
  // for a kLong call, starting a thread if no follower is waiting.
  void HandOffPolling(CallCost cost);
  // Under mutex_: starts a thread if nobody polls and no follower waits to.
  void EnsurePoller();
  // A handed-off call turns out long (LongCall).
  void LongCallStarted();
  // The leader is about to compute for long (server/blocking.h): it hands
  // off polling, waking a follower only if a core is left for it. Pair with
  // EndComputing.
  void StartComputing();
  void EndComputing();
  // Whether the slow computations running leave at most one core free.
  bool CoresBusy();
  // The next event, or nullptr when the queue has shut down.
  bool Next(void** tag, bool* ok);

  Options options_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::vector<std::function<void()>> arm_routes_;
  std::vector<std::shared_ptr<void>> routes_;  // keeps each RouteSpec alive
  std::vector<std::thread> threads_;

  std::mutex mutex_;
  std::condition_variable leader_wanted_;
  bool has_leader_ = false;
  bool stopped_ = false;
  bool no_new_threads_ = false;  // Stop has begun
  int followers_waiting_ = 0;    // threads waiting for the leadership
  int extra_threads_ = 0;        // running threads started by kLong calls
  std::condition_variable extra_thread_ended_;
  int computing_ = 0;  // threads inside a slow computation; under mutex_
  // At least 2: even on one core a quick call must not wait behind a slow one.
  const int cores_ = std::max(2u, std::thread::hardware_concurrency());
};

template <typename Request, typename Reply>
struct RpcServer::RouteSpec {
  std::function<void(grpc::ServerContext*, Request*, grpc::ServerAsyncResponseWriter<Reply>*, void*)> request;
  CallCost cost;
  UnaryHandler<Request, Reply> handler;
};

// One call of one method, from its arrival to its reply; it asks for the
// next call of its method as soon as it arrives.
template <typename Request, typename Reply>
class RpcServer::UnaryCall final : public RpcServer::Event {
 public:
  explicit UnaryCall(const RouteSpec<Request, Reply>* route) : route_(route), responder_(&context_) {
    route_->request(&context_, &request_, &responder_, this);
  }

  CallCost Cost(bool ok) const override { return ok && !replied_ ? route_->cost : CallCost::kQuick; }

  void Proceed(bool ok) override {
    if (!ok || replied_) {  // the queue shut down, or the reply has gone
      delete this;
      return;
    }
    new UnaryCall(route_);
    Reply reply;
    grpc::Status status = route_->handler(context_, request_, &reply);
    ComputationDone();  // before the reply can bring the client's next call
    replied_ = true;
    if (status.ok()) {
      responder_.Finish(reply, status, this);
    } else {
      responder_.FinishWithError(status, this);
    }
  }

 private:
  const RouteSpec<Request, Reply>* route_;
  grpc::ServerContext context_;
  Request request_;
  grpc::ServerAsyncResponseWriter<Reply> responder_;
  bool replied_ = false;
};

template <typename Service, typename Owner, typename Request, typename Reply>
void RpcServer::Route(Service* service, AsyncRequestMethod<Owner, Request, Reply> request, CallCost cost,
                      typename NonDeduced<UnaryHandler<Request, Reply>>::type handler) {
  auto route = std::make_shared<RouteSpec<Request, Reply>>();
  grpc::ServerCompletionQueue* cq = cq_.get();
  route->request = [service, request, cq](grpc::ServerContext* context, Request* message,
                                          grpc::ServerAsyncResponseWriter<Reply>* responder, void* tag) {
    (static_cast<Owner*>(service)->*request)(context, message, responder, cq, cq, tag);
  };
  route->cost = cost;
  route->handler = std::move(handler);
  const RouteSpec<Request, Reply>* spec = route.get();
  routes_.push_back(std::move(route));
  arm_routes_.push_back([spec] { new UnaryCall<Request, Reply>(spec); });
}

}  // namespace hsm::server

#endif  // HSM_SERVER_RPC_SERVER_H_
