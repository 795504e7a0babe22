#include "server/mechanisms.h"

#include <algorithm>

namespace hsm::server {

const std::vector<MechanismInfo>& SupportedMechanisms() {
  // Random generation needs no mechanism; cryptographic mechanisms join this
  // table as they are implemented.
  static const std::vector<MechanismInfo> mechanisms = [] {
    std::vector<MechanismInfo> table = {};
    std::sort(table.begin(), table.end(),
              [](const MechanismInfo& a, const MechanismInfo& b) { return a.type < b.type; });
    return table;
  }();
  return mechanisms;
}

const MechanismInfo* FindMechanism(uint64_t type) {
  for (const MechanismInfo& info : SupportedMechanisms()) {
    if (info.type == type) return &info;
  }
  return nullptr;
}

}  // namespace hsm::server
