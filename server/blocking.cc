#include "server/blocking.h"

namespace hsm::server {
namespace {

thread_local void (*current_hook)(void*) = nullptr;
thread_local void* current_arg = nullptr;

}  // namespace

void AboutToBlock() {
  void (*hook)(void*) = current_hook;
  if (hook == nullptr) return;
  current_hook = nullptr;
  hook(current_arg);
}

void SetBlockingHook(void (*hook)(void*), void* arg) {
  current_hook = hook;
  current_arg = arg;
}

bool BlockingHookPending() { return current_hook != nullptr; }

}  // namespace hsm::server
