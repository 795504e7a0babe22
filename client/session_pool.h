// Spare hsmd sessions. NSS opens and closes a session around every
// signature; a C_CloseSession of a clean session keeps its hsmd session here
// for the next C_OpenSession of the same slot and flags, which then costs no
// round trip.
//
// A spare must be indistinguishable from a new session, and its existence
// invisible:
// - Clean: no cryptographic operation known active or unknown, no search
//   hsmd holds, and no object created on it (session objects die with their
//   session, so such a session is really closed).
// - Never the application's last session on the slot: that close logs the
//   application out there, so it closes the spares too.
// - C_GetTokenInfo does not count spares; C_Login, C_Logout, C_InitToken,
//   C_CloseAllSessions and a refused C_OpenSession (the tenant's session
//   quota) release them first.
// - Only for tenants without a session quota (hsmd says so at registration
//   and in every heartbeat): spares would take other applications' sessions.
#ifndef HSM_CLIENT_SESSION_POOL_H_
#define HSM_CLIENT_SESSION_POOL_H_

#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace hsm::client {

class SessionPool {
 public:
  struct Spare {
    uint64_t server_session = 0;
    uint64_t epoch = 0;
    uint64_t slot_id = 0;
    uint64_t flags = 0;
  };

  // Keeps `spare`; false if enough of its slot and flags are kept already.
  bool Put(const Spare& spare);
  // A spare for `slot_id` and exactly `flags`, of registration `epoch`.
  std::optional<Spare> Take(uint64_t slot_id, uint64_t flags, uint64_t epoch);
  // Removes and returns the spares of `slot_id`.
  std::vector<Spare> TakeSlot(uint64_t slot_id);
  // Removes and returns every spare.
  std::vector<Spare> TakeAll();
  // The spares of `slot_id` in registration `epoch`: all, and read-write ones.
  struct Counts {
    uint64_t all = 0;
    uint64_t read_write = 0;
  };
  Counts CountOn(uint64_t slot_id, uint64_t epoch);

 private:
  // Per slot and flags: enough for a few threads that each open and close.
  static constexpr size_t kMaxPerKind = 4;
  std::mutex mutex_;
  std::vector<Spare> spares_;
};

}  // namespace hsm::client

#endif  // HSM_CLIENT_SESSION_POOL_H_
