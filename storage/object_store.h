// Token objects in LMDB: each change one write transaction, key material sealed
// (storage/sealer.h), and indexes on what clients search by, so that a search
// naming one of them never walks the whole token.
#ifndef HSM_STORAGE_OBJECT_STORE_H_
#define HSM_STORAGE_OBJECT_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/hsm/v1/pkcs11.pb.h"
#include "storage/lmdb_env.h"
#include "storage/sealer.h"

namespace hsm::storage {

// An object's attributes by type.
using AttributeSet = std::map<uint64_t, hsm::v1::Attribute>;

// One attribute value of each kind.
hsm::v1::Attribute MakeBool(uint64_t type, bool value);
hsm::v1::Attribute MakeUlong(uint64_t type, uint64_t value);
hsm::v1::Attribute MakeBytes(uint64_t type, std::string value);

struct TokenRef {
  uint64_t tenant_id = 0;
  uint64_t slot_id = 0;
};

// Object ids are below this, so that they never meet session-object handles.
inline constexpr uint64_t kMaxObjectId = uint64_t{1} << 32;

class ObjectStore {
 public:
  // `env` and `sealer` must outlive the store. FailedPrecondition if the
  // sealer's master key is not the one the stored keys were sealed under.
  static absl::StatusOr<std::unique_ptr<ObjectStore>> Open(LmdbEnv* env, const Sealer* sealer);

  // Stores a new object and returns its id, never reused on the token. The
  // attributes whose types are in `secret` are sealed.
  absl::StatusOr<uint64_t> Create(TokenRef token, const AttributeSet& attributes,
                                  const std::set<uint64_t>& secret);
  // Replaces an object's attributes; NotFound if there is no such object.
  absl::Status Replace(TokenRef token, uint64_t id, const AttributeSet& attributes,
                       const std::set<uint64_t>& secret);
  // NotFound if there is no such object.
  absl::Status Destroy(TokenRef token, uint64_t id);
  absl::Status DestroyAll(TokenRef token);

  // The object's attributes with sealed ones opened, or nullopt.
  absl::StatusOr<std::optional<AttributeSet>> Load(TokenRef token, uint64_t id);

  // The ids of the objects for which `match` holds, in id order. `match` sees
  // the plain attributes and the types of the sealed ones (never their
  // values). Only objects that share the query's most selective indexed
  // attribute are looked at. A search that looks at more than
  // kLongSearchObjects (one by class alone, say) takes milliseconds to
  // seconds: `on_long_search`, if given, hears of it once, when it gets there.
  using Matcher = std::function<bool(const AttributeSet& plain, const std::set<uint64_t>& sealed)>;
  static constexpr size_t kLongSearchObjects = 1000;
  absl::StatusOr<std::vector<uint64_t>> Find(TokenRef token, const AttributeSet& query, const Matcher& match,
                                             const std::function<void()>& on_long_search = nullptr);

  absl::StatusOr<size_t> Count(TokenRef token);
  // The number of token objects of a tenant, kept up to date by every change
  // (so quotas cost no walk).
  absl::StatusOr<uint64_t> CountTenant(uint64_t tenant_id);

  // Calls `visit` with each object's id and plain attributes (never the
  // sealed ones), in id order.
  absl::Status Scan(TokenRef token, const std::function<void(uint64_t id, const AttributeSet& plain)>& visit);

 private:
  // Refuses a master key other than the one the store's keys are sealed
  // under: a value sealed at the first open must open with it (for data
  // older than that value, the first sealed attribute must). Keeps the value.
  absl::Status CheckMasterKey();

  ObjectStore(LmdbEnv* env, const Sealer* sealer, MDB_dbi objects, MDB_dbi index, MDB_dbi meta)
      : env_(env), sealer_(sealer), objects_(objects), index_(index), meta_(meta) {}

  absl::Status Write(Txn& txn, TokenRef token, uint64_t id, const AttributeSet& attributes,
                     const std::set<uint64_t>& secret);
  absl::Status Erase(Txn& txn, TokenRef token, uint64_t id);
  // Adds `delta` to the tenant's object counter inside `txn`.
  absl::Status AddToTenantCount(Txn& txn, uint64_t tenant_id, int64_t delta);

  LmdbEnv* env_;
  const Sealer* sealer_;
  MDB_dbi objects_;  // token | id -> StoredObject
  MDB_dbi index_;    // token | index kind | digest(value) | id -> ""
  MDB_dbi meta_;     // "next_object" | token -> next id; "objects" | tenant -> count
};

// The associated data a sealed attribute is bound to.
std::string SealBinding(TokenRef token, uint64_t id, uint64_t type);

}  // namespace hsm::storage

#endif  // HSM_STORAGE_OBJECT_STORE_H_
