// The mechanisms hsmd implements, with the key sizes and flags that
// C_GetMechanismInfo reports. One table, so the list never claims more than
// the server does.
#ifndef HSM_SERVER_MECHANISMS_H_
#define HSM_SERVER_MECHANISMS_H_

#include <cstdint>
#include <vector>

namespace hsm::server {

struct MechanismInfo {
  uint64_t type;
  uint64_t min_key_size;
  uint64_t max_key_size;
  uint64_t flags;
};

// Sorted by type.
const std::vector<MechanismInfo>& SupportedMechanisms();
const MechanismInfo* FindMechanism(uint64_t type);

}  // namespace hsm::server

#endif  // HSM_SERVER_MECHANISMS_H_
