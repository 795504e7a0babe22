#include "bench/hold_sessions.h"

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace hsm::bench {

Status HoldSessions(const Env& env, size_t count, double seconds) {
  std::vector<CK_SESSION_HANDLE> sessions;
  Status status;
  for (size_t i = 0; i < count && status.ok(); ++i) {
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_RV rv = env.p11->C_OpenSession(env.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session);
    if (rv == CKR_OK) {
      sessions.push_back(session);
    } else {
      status = Status::Failed("C_OpenSession #" + std::to_string(i + 1), rv);
    }
  }
  if (status.ok()) {
    std::printf("holding %zu sessions\n", sessions.size());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  }
  for (CK_SESSION_HANDLE session : sessions) env.p11->C_CloseSession(session);
  return status;
}

}  // namespace hsm::bench
