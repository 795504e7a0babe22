#include "client/reply_wait.h"

#include <sched.h>

#include <atomic>

#include "client/log.h"

namespace hsm::client {
namespace {

// Once hsmd said its cores were busy, every thread of the application
// sleeps for this long (quick calls too: they need the free core as well).
// Polling clients change what they measure (hsmd's computations overlap less
// while the client takes a core), so a per-call answer would flip back and
// forth.
constexpr std::chrono::milliseconds kSleepAfterBusy(100);

// Until when calls sleep (steady_clock, in its own ticks).
std::atomic<std::chrono::steady_clock::rep> sleep_until{0};

}  // namespace

void AwaitReply(grpc::CompletionQueue& queue, std::chrono::microseconds spin) {
  void* tag = nullptr;
  bool ok = false;
  bool done = false;
  if (spin.count() > 0) {
    const auto until = std::chrono::steady_clock::now() + spin;
    do {
      // A zero deadline polls the connection's socket once and returns.
      if (queue.AsyncNext(&tag, &ok, gpr_time_0(GPR_CLOCK_MONOTONIC)) == grpc::CompletionQueue::GOT_EVENT) {
        done = true;
        break;
      }
      sched_yield();
    } while (std::chrono::steady_clock::now() < until);
  }
  // The call's deadline bounds this: Finish then completes with
  // DEADLINE_EXCEEDED.
  if (!done) queue.Next(&tag, &ok);
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
}

void NoteCoresBusy() {
  if (!CoresWereBusy())
    LogDebug("hsmd's slow computations leave it a core at most: data calls sleep while they wait");
  sleep_until.store((std::chrono::steady_clock::now() + kSleepAfterBusy).time_since_epoch().count(),
                    std::memory_order_relaxed);
}

bool CoresWereBusy() {
  return std::chrono::steady_clock::now().time_since_epoch().count() <
         sleep_until.load(std::memory_order_relaxed);
}

}  // namespace hsm::client
