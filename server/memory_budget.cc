#include "server/memory_budget.h"

namespace hsm::server {

bool MemoryBudget::TryGrow(uint64_t bytes, uint64_t limit) {
  uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (!FitsBeside(used, bytes, limit)) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

void MemoryBudget::Shrink(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

bool MemoryCharge::Resize(uint64_t bytes, uint64_t limit) {
  // The usual case on the signing path: nothing kept before or after, and no
  // write to the budget's cache line, which the application's threads share.
  if (bytes == bytes_) return true;
  if (bytes > bytes_) {
    if (!budget_->TryGrow(bytes - bytes_, limit)) return false;
  } else {
    budget_->Shrink(bytes_ - bytes);
  }
  bytes_ = bytes;
  return true;
}

}  // namespace hsm::server
