#include "bench/parallel.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace hsm::bench {

Status ParallelFor(const Env& env, int threads, size_t count,
                   const std::function<Status(CK_SESSION_HANDLE session, size_t i)>& body) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  Status first_failure;
  auto fail = [&](Status status) {
    std::lock_guard<std::mutex> lock(mutex);
    if (first_failure.ok()) first_failure = std::move(status);
    failed = true;
  };
  auto work = [&] {
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_RV rv = env.p11->C_OpenSession(env.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session);
    if (rv != CKR_OK) return fail(Status::Failed("C_OpenSession", rv));
    for (size_t i = next++; i < count && !failed; i = next++) {
      Status status = body(session, i);
      if (!status.ok()) {
        fail(std::move(status));
        break;
      }
    }
    env.p11->C_CloseSession(session);
  };
  const int n = static_cast<int>(std::min<size_t>(std::max(threads, 1), std::max<size_t>(count, 1)));
  std::vector<std::thread> pool;
  for (int t = 0; t < n; ++t) pool.emplace_back(work);
  for (std::thread& thread : pool) thread.join();
  return first_failure;
}

}  // namespace hsm::bench
