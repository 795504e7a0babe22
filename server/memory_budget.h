// Memory that several holders of one application share, under a limit the
// caller names at each growth: the data its sessions' operations keep between
// calls (AES-GCM ciphertext until C_DecryptFinal, an output kept for a retry
// with a larger buffer). A client sends at most one gRPC message per call,
// but could keep such data in every session it opens.
#ifndef HSM_SERVER_MEMORY_BUDGET_H_
#define HSM_SERVER_MEMORY_BUDGET_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>

namespace hsm::server {

// Whether `bytes` more fit beside `used` within `limit`, without overflow.
inline bool FitsBeside(uint64_t used, uint64_t bytes, uint64_t limit) {
  return bytes <= limit - std::min(limit, used);
}

// Thread-safe: the sessions of one application run calls at the same time.
class MemoryBudget {
 public:
  // Counts `bytes` more if the total stays within `limit`; false (nothing
  // counted) otherwise.
  bool TryGrow(uint64_t bytes, uint64_t limit);
  void Shrink(uint64_t bytes);
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> used_{0};
};

// What one holder counts against a budget; it gives it back when cleared or
// destroyed.
class MemoryCharge {
 public:
  explicit MemoryCharge(std::shared_ptr<MemoryBudget> budget) : budget_(std::move(budget)) {}
  ~MemoryCharge() { Clear(); }
  MemoryCharge(const MemoryCharge&) = delete;
  MemoryCharge& operator=(const MemoryCharge&) = delete;

  // Counts `bytes` in all instead of what was counted. A growth that would
  // take the budget past `limit` fails and changes nothing; a shrink always
  // succeeds.
  bool Resize(uint64_t bytes, uint64_t limit);
  void Clear() { Resize(0, 0); }
  uint64_t bytes() const { return bytes_; }

 private:
  std::shared_ptr<MemoryBudget> budget_;
  uint64_t bytes_ = 0;
};

}  // namespace hsm::server

#endif  // HSM_SERVER_MEMORY_BUDGET_H_
