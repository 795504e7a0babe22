// Sealing of key material at rest: AES-256-GCM under a key derived (HKDF-SHA256)
// from the master key for each tenant and token, with the caller's associated
// data (tenant, token, object, attribute) bound in, so a sealed value copied to
// another object, token or tenant does not open.
#ifndef HSM_STORAGE_SEALER_H_
#define HSM_STORAGE_SEALER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "storage/records.pb.h"

namespace hsm::storage {

inline constexpr size_t kMasterKeyBytes = 32;

class Sealer {
 public:
  // `master_key` must be kMasterKeyBytes long.
  static absl::StatusOr<std::unique_ptr<Sealer>> Create(const std::string& master_key);

  // Reads a master key file (32 raw bytes, or 64 hex digits). With
  // `create_if_missing`, a missing file is created with a random key (0600)
  // and `created` is set.
  static absl::StatusOr<std::string> LoadMasterKey(const std::string& path, bool create_if_missing,
                                                   bool* created);

  absl::StatusOr<SealedValue> Seal(uint64_t tenant_id, uint64_t slot_id, const std::string& plaintext,
                                   const std::string& associated_data) const;
  // DataLoss if the value was altered, or sealed for other associated data.
  absl::StatusOr<std::string> Open(uint64_t tenant_id, uint64_t slot_id, const SealedValue& sealed,
                                   const std::string& associated_data) const;

 private:
  explicit Sealer(std::string master_key) : master_key_(std::move(master_key)) {}
  absl::StatusOr<std::string> TokenKey(uint64_t tenant_id, uint64_t slot_id) const;

  const std::string master_key_;
  mutable std::mutex mutex_;
  mutable std::map<std::pair<uint64_t, uint64_t>, std::string> token_keys_;
};

}  // namespace hsm::storage

#endif  // HSM_STORAGE_SEALER_H_
