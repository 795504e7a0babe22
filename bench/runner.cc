#include "bench/runner.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace hsm::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Shared by the threads of one run.
struct Shared {
  std::mutex mutex;
  std::condition_variable changed;
  int ready = 0;       // threads with their session open
  bool go = false;     // set once every thread is ready (or one failed)
  Clock::time_point start, deadline;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> issued{0};
  Status failure;

  void Fail(Status status) {
    std::lock_guard<std::mutex> lock(mutex);
    if (failure.ok()) failure = std::move(status);
    stop = true;
  }
};

void Work(Scenario& scenario, const Env& env, const RunOptions& options, Shared& shared, Worker& worker,
          std::vector<int64_t>& latencies, Clock::time_point& end) {
  CK_RV rv = env.p11->C_OpenSession(env.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr,
                                    &worker.session);
  if (rv != CKR_OK) shared.Fail(Status::Failed("C_OpenSession", rv));
  {
    // Nobody starts before every session is open: opening is not measured.
    std::unique_lock<std::mutex> lock(shared.mutex);
    ++shared.ready;
    shared.changed.notify_all();
    shared.changed.wait(lock, [&] { return shared.go; });
  }
  latencies.reserve(1 << 16);
  while (!shared.stop.load(std::memory_order_relaxed)) {
    if (options.max_ops != 0 && shared.issued.fetch_add(1) >= options.max_ops) break;
    const Clock::time_point before = Clock::now();
    Status status = scenario.Run(env, worker);
    const Clock::time_point after = Clock::now();
    if (status.exhausted) break;
    if (!status.ok()) {
      shared.Fail(std::move(status));
      break;
    }
    latencies.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(after - before).count());
    ++worker.done;
    if (after >= shared.deadline) break;
  }
  end = Clock::now();
  // Closing the session also destroys the session objects it made.
  if (worker.session != CK_INVALID_HANDLE) env.p11->C_CloseSession(worker.session);
}

}  // namespace

RunResult RunTimed(Scenario& scenario, const Env& env, const RunOptions& options) {
  Shared shared;
  std::vector<Worker> workers(options.threads);
  std::vector<std::vector<int64_t>> latencies(options.threads);
  std::vector<Clock::time_point> ends(options.threads);
  std::vector<std::thread> threads;
  for (int t = 0; t < options.threads; ++t) {
    workers[t].index = t;
    workers[t].random.seed(0x9e3779b97f4a7c15ull * (t + 1));
    threads.emplace_back(Work, std::ref(scenario), std::cref(env), std::cref(options), std::ref(shared),
                         std::ref(workers[t]), std::ref(latencies[t]), std::ref(ends[t]));
  }
  {
    std::unique_lock<std::mutex> lock(shared.mutex);
    shared.changed.wait(lock, [&] { return shared.ready == options.threads; });
    shared.start = Clock::now();
    shared.deadline = shared.start + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(options.seconds));
    shared.go = true;
    shared.changed.notify_all();
  }
  for (std::thread& thread : threads) thread.join();

  RunResult result;
  Clock::time_point last = shared.start;
  for (int t = 0; t < options.threads; ++t) {
    result.latencies_ns.insert(result.latencies_ns.end(), latencies[t].begin(), latencies[t].end());
    last = std::max(last, ends[t]);
  }
  result.seconds = std::chrono::duration<double>(last - shared.start).count();
  result.failure = shared.failure;
  return result;
}

}  // namespace hsm::bench
