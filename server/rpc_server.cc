#include "server/rpc_server.h"

#include <sched.h>

#include <chrono>

#include "server/blocking.h"

namespace hsm::server {

RpcServer::RpcServer(grpc::ServerBuilder& builder, Options options)
    : options_(options), cq_(builder.AddCompletionQueue()) {
  if (options_.threads < 2) options_.threads = 2;  // one polls while another runs a long call
}

RpcServer::~RpcServer() { Stop(); }

void RpcServer::Start() {
  for (const auto& arm : arm_routes_) arm();
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Loop(/*extra=*/false); });
}

void RpcServer::Stop() {
  if (cq_ == nullptr) return;
  cq_->Shutdown();
  if (threads_.empty()) {  // never started: drain what was armed
    void* tag;
    bool ok;
    while (cq_->Next(&tag, &ok)) static_cast<Event*>(tag)->Proceed(false);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    no_new_threads_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  {
    std::unique_lock<std::mutex> lock(mutex_);
    extra_thread_ended_.wait(lock, [this] { return extra_threads_ == 0; });
  }
  cq_.reset();
}

bool RpcServer::Next(void** tag, bool* ok) {
  // Poll without sleeping first: a busy client's next call usually comes
  // within a few tens of µs. Only the leader polls, so this is the thread
  // gRPC lets wait in epoll; sched_yield gives the core away if anything else
  // wants it.
  if (options_.spin > absl::ZeroDuration()) {
    const auto until = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(options_.spin);
    do {
      switch (cq_->AsyncNext(tag, ok, gpr_time_0(GPR_CLOCK_MONOTONIC))) {
        case grpc::CompletionQueue::GOT_EVENT:
          return true;
        case grpc::CompletionQueue::SHUTDOWN:
          return false;
        case grpc::CompletionQueue::TIMEOUT:
          sched_yield();
          break;
      }
    } while (std::chrono::steady_clock::now() < until);
  }
  return cq_->Next(tag, ok);
}

void RpcServer::EnsurePoller() {
  if (has_leader_ || followers_waiting_ > 0 || no_new_threads_ || extra_threads_ >= kMaxExtraThreads) return;
  ++extra_threads_;
  // Detached: it may end long before Stop; Stop waits for the count.
  std::thread([this] {
    Loop(/*extra=*/true);
    std::lock_guard<std::mutex> lock(mutex_);
    --extra_threads_;
    extra_thread_ended_.notify_all();
  }).detach();
}

void RpcServer::HandOffPolling(CallCost cost) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    has_leader_ = false;
    if (cost == CallCost::kLong) EnsurePoller();
  }
  leader_wanted_.notify_one();
}

void RpcServer::LongCallStarted() {
  std::lock_guard<std::mutex> lock(mutex_);
  EnsurePoller();
}

void RpcServer::StartComputing() {
  bool wake_follower;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    has_leader_ = false;
    ++computing_;
    wake_follower = computing_ < cores_;
  }
  if (wake_follower) leader_wanted_.notify_one();
}

bool RpcServer::CoresBusy() {
  std::lock_guard<std::mutex> lock(mutex_);
  // A client polling on this machine would take the one core left.
  return computing_ + 1 >= cores_;
}

void RpcServer::EndComputing() {
  std::lock_guard<std::mutex> lock(mutex_);
  --computing_;
}

void RpcServer::Loop(bool extra) {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // No longer needed: someone polls, and a follower waits to take over.
      if (extra && has_leader_ && followers_waiting_ > 0) return;
      ++followers_waiting_;
      leader_wanted_.wait(lock, [this] { return !has_leader_ || stopped_; });
      --followers_waiting_;
      if (stopped_) return;
      has_leader_ = true;
    }
    // Lead until an event may block; then let a follower lead while this
    // thread runs it.
    for (;;) {
      void* tag;
      bool ok;
      if (!Next(&tag, &ok)) {  // shut down and drained
        std::lock_guard<std::mutex> lock(mutex_);
        stopped_ = true;
        has_leader_ = false;
        leader_wanted_.notify_all();
        return;
      }
      Event* event = static_cast<Event*>(tag);
      const CallCost cost = event->Cost(ok);
      if (cost != CallCost::kQuick) {
        HandOffPolling(cost);
        BlockingHook long_call_hook;
        long_call_hook.long_call = [](void* server) { static_cast<RpcServer*>(server)->LongCallStarted(); };
        long_call_hook.arg = this;
        SetBlockingHook(&long_call_hook);
        event->Proceed(ok);
        SetBlockingHook(nullptr);
        break;
      }
      // A quick call may still find out that it is slow (an RSA signature):
      // then it hands off polling from inside, and this thread follows.
      const BlockingHook hook{
          [](void* server) { static_cast<RpcServer*>(server)->StartComputing(); },
          [](void* server) { return static_cast<RpcServer*>(server)->CoresBusy(); },
          [](void* server) { static_cast<RpcServer*>(server)->EndComputing(); },
          this,
      };
      SetBlockingHook(&hook);
      event->Proceed(ok);
      const bool handed_off = !BlockingHookPending();
      ComputationDone();  // if Proceed did not (a call that ended without replying)
      SetBlockingHook(nullptr);
      if (handed_off) break;
    }
  }
}

}  // namespace hsm::server
