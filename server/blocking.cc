#include "server/blocking.h"

namespace hsm::server {
namespace {

thread_local const BlockingHook* current_hook = nullptr;
thread_local bool announced = false;
thread_local bool done = false;

}  // namespace

void AboutToBlock() {
  if (current_hook == nullptr || announced) return;
  announced = true;
  if (current_hook->about_to_block != nullptr) current_hook->about_to_block(current_hook->arg);
}

void LongCall() {
  if (current_hook != nullptr && current_hook->long_call != nullptr) current_hook->long_call(current_hook->arg);
}

void SetBlockingHook(const BlockingHook* hook) {
  current_hook = hook;
  announced = false;
  done = false;
}

void ComputationDone() {
  if (current_hook == nullptr || !announced || done) return;
  done = true;
  if (current_hook->done_computing != nullptr) current_hook->done_computing(current_hook->arg);
}

bool BlockingHookPending() { return current_hook != nullptr && !announced; }

bool CoresBusyComputing() {
  return announced && current_hook->cores_busy != nullptr &&
         current_hook->cores_busy(current_hook->arg);
}

}  // namespace hsm::server
