#include "storage/object_store.h"

#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "storage/records.pb.h"
#include "storage/byte_order.h"
#include "storage/token_store.h"
#include "third_party/pkcs11/pkcs11.h"

#define HSM_STORAGE_RETURN_IF_ERROR(expr) \
  do {                                       \
    absl::Status status_ = (expr);           \
    if (!status_.ok()) return status_;       \
  } while (0)

namespace hsm::storage {
namespace {

// Issuer and serial number together name one certificate.
constexpr uint64_t kIssuerAndSerial = 0xFFFFFFFFFFFF0001ull;

// Indexed attributes, most selective first.
constexpr uint64_t kIndexKinds[] = {CKA_VALUE, kIssuerAndSerial, CKA_ID, CKA_SUBJECT, CKA_LABEL,
                                    CKA_KEY_TYPE, CKA_CLASS};

std::string TokenPrefix(TokenRef token) { return Be64(token.tenant_id) + Be64(token.slot_id); }

std::string ObjectKey(TokenRef token, uint64_t id) { return TokenPrefix(token) + Be64(id); }

// A stable encoding of a value, for hashing into the index.
std::string Canonical(const hsm::v1::Attribute& a) {
  switch (a.value_case()) {
    case hsm::v1::Attribute::kUlong:
      return "u" + Be64(a.ulong());
    case hsm::v1::Attribute::kBoolean:
      return a.boolean() ? "o1" : "o0";
    case hsm::v1::Attribute::kBytes:
      return "b" + a.bytes();
    default:
      return "x" + a.SerializeAsString();
  }
}

std::string Digest(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), 16);
}

// The digest under which `attributes` appear in index `kind`, if they do.
std::optional<std::string> IndexDigest(uint64_t kind, const AttributeSet& attributes) {
  if (kind == kIssuerAndSerial) {
    auto issuer = attributes.find(CKA_ISSUER), serial = attributes.find(CKA_SERIAL_NUMBER);
    if (issuer == attributes.end() || serial == attributes.end()) return std::nullopt;
    std::string issuer_value = Canonical(issuer->second);
    return Digest(Be64(issuer_value.size()) + issuer_value + Canonical(serial->second));
  }
  auto it = attributes.find(kind);
  if (it == attributes.end()) return std::nullopt;
  return Digest(Canonical(it->second));
}

std::string IndexPrefix(TokenRef token, uint64_t kind, const std::string& digest) {
  return TokenPrefix(token) + Be64(kind) + digest;
}

std::string NextIdKey(TokenRef token) { return "next_object" + TokenPrefix(token); }

std::string TenantCountKey(uint64_t tenant_id) { return "objects" + Be64(tenant_id); }

absl::Status ParseObject(std::string_view bytes, StoredObject& object) {
  if (!object.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("a stored object does not parse");
  }
  return absl::OkStatus();
}

}  // namespace

hsm::v1::Attribute MakeBool(uint64_t type, bool value) {
  hsm::v1::Attribute a;
  a.set_type(type);
  a.set_boolean(value);
  return a;
}

hsm::v1::Attribute MakeUlong(uint64_t type, uint64_t value) {
  hsm::v1::Attribute a;
  a.set_type(type);
  a.set_ulong(value);
  return a;
}

hsm::v1::Attribute MakeBytes(uint64_t type, std::string value) {
  hsm::v1::Attribute a;
  a.set_type(type);
  a.set_bytes(std::move(value));
  return a;
}

std::string SealBinding(TokenRef token, uint64_t id, uint64_t type) {
  return "hsm object attribute" + TokenPrefix(token) + Be64(id) + Be64(type);
}

absl::StatusOr<std::unique_ptr<ObjectStore>> ObjectStore::Open(LmdbEnv* env, const Sealer* sealer) {
  absl::StatusOr<MDB_dbi> objects = env->OpenDatabase("objects");
  if (!objects.ok()) return objects.status();
  absl::StatusOr<MDB_dbi> index = env->OpenDatabase("object_index");
  if (!index.ok()) return index.status();
  absl::StatusOr<MDB_dbi> meta = env->OpenDatabase("meta");
  if (!meta.ok()) return meta.status();
  std::unique_ptr<ObjectStore> store(new ObjectStore(env, sealer, *objects, *index, *meta));
  absl::Status checked = store->CheckMasterKey();
  if (!checked.ok()) return checked;
  return store;
}

namespace {

// What the master key check seals: under tenant 0 and slot 0, which no token
// has, so its key is derived apart from every token's.
constexpr char kMasterKeyCheckKey[] = "master_key_check";
constexpr char kMasterKeyCheckBinding[] = "hsm master key check";

absl::Status WrongMasterKey() {
  return absl::FailedPreconditionError(
      "the master key is not the one this data folder's keys are sealed under (no key could be used with it, "
      "and new keys sealed under it would not open with the right one)");
}

}  // namespace

absl::Status ObjectStore::CheckMasterKey() {
  std::optional<SealedValue> check;
  std::optional<std::pair<std::string, SealedAttribute>> some_sealed;  // object key and one sealed attribute
  HSM_STORAGE_RETURN_IF_ERROR(env_->Read([&](Txn& txn) -> absl::Status {
    absl::StatusOr<std::optional<std::string_view>> stored = txn.Get(meta_, kMasterKeyCheckKey);
    if (!stored.ok()) return stored.status();
    if (stored->has_value()) {
      check.emplace();
      if (!check->ParseFromArray((*stored)->data(), static_cast<int>((*stored)->size()))) {
        return absl::DataLossError("the master key check does not parse");
      }
      return absl::OkStatus();
    }
    // Data from before the check was kept: the first sealed value stands in.
    absl::Status parsed;
    absl::Status walked = txn.ForEachWithPrefix(objects_, "", [&](std::string_view key, std::string_view bytes) {
      StoredObject object;
      parsed = ParseObject(bytes, object);
      if (!parsed.ok()) return false;
      if (object.sealed_size() == 0 || key.size() != 24) return true;  // 24: tenant, slot, id
      some_sealed.emplace(std::string(key), object.sealed(0));
      return false;
    });
    return walked.ok() ? parsed : walked;
  }));
  if (check.has_value()) {
    return sealer_->Open(0, 0, *check, kMasterKeyCheckBinding).ok() ? absl::OkStatus() : WrongMasterKey();
  }
  if (some_sealed.has_value()) {
    const std::string& key = some_sealed->first;
    const TokenRef token{ReadBe64(key.substr(0, 8)), ReadBe64(key.substr(8, 8))};
    const uint64_t id = ReadBe64(key.substr(16, 8));
    const SealedAttribute& sealed = some_sealed->second;
    if (!sealer_->Open(token.tenant_id, token.slot_id, sealed.value(), SealBinding(token, id, sealed.type())).ok()) {
      return WrongMasterKey();
    }
  }
  absl::StatusOr<SealedValue> sealed_check =
      sealer_->Seal(0, 0, "the master key of this data folder", kMasterKeyCheckBinding);
  if (!sealed_check.ok()) return sealed_check.status();
  return env_->Write(
      [&](Txn& txn) { return txn.Put(meta_, kMasterKeyCheckKey, sealed_check->SerializeAsString()); });
}

absl::Status ObjectStore::Write(Txn& txn, TokenRef token, uint64_t id, const AttributeSet& attributes,
                                const std::set<uint64_t>& secret) {
  StoredObject stored;
  stored.set_id(id);
  AttributeSet plain;
  for (const auto& [type, attribute] : attributes) {
    if (secret.count(type) == 0) {
      *stored.add_attributes() = attribute;
      plain[type] = attribute;
      continue;
    }
    absl::StatusOr<SealedValue> sealed =
        sealer_->Seal(token.tenant_id, token.slot_id, attribute.SerializeAsString(), SealBinding(token, id, type));
    if (!sealed.ok()) return sealed.status();
    SealedAttribute* entry = stored.add_sealed();
    entry->set_type(type);
    *entry->mutable_value() = *sealed;
  }
  absl::Status status = txn.Put(objects_, ObjectKey(token, id), stored.SerializeAsString());
  if (!status.ok()) return status;
  for (uint64_t kind : kIndexKinds) {
    std::optional<std::string> digest = IndexDigest(kind, plain);
    if (!digest.has_value()) continue;
    status = txn.Put(index_, IndexPrefix(token, kind, *digest) + Be64(id), "");
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status ObjectStore::Erase(Txn& txn, TokenRef token, uint64_t id) {
  const std::string key = ObjectKey(token, id);
  absl::StatusOr<std::optional<std::string_view>> bytes = txn.Get(objects_, key);
  if (!bytes.ok()) return bytes.status();
  if (!bytes->has_value()) return absl::NotFoundError("no such object");
  StoredObject stored;
  absl::Status status = ParseObject(**bytes, stored);
  if (!status.ok()) return status;
  AttributeSet plain;
  for (const hsm::v1::Attribute& attribute : stored.attributes()) plain[attribute.type()] = attribute;
  for (uint64_t kind : kIndexKinds) {
    std::optional<std::string> digest = IndexDigest(kind, plain);
    if (!digest.has_value()) continue;
    status = txn.Delete(index_, IndexPrefix(token, kind, *digest) + Be64(id));
    if (!status.ok()) return status;
  }
  return txn.Delete(objects_, key);
}

absl::Status ObjectStore::AddToTenantCount(Txn& txn, uint64_t tenant_id, int64_t delta) {
  absl::StatusOr<std::optional<std::string_view>> current = txn.Get(meta_, TenantCountKey(tenant_id));
  if (!current.ok()) return current.status();
  uint64_t count = 0;
  if (current->has_value()) {
    const int64_t updated = static_cast<int64_t>(ReadBe64(**current)) + delta;
    count = updated < 0 ? 0 : static_cast<uint64_t>(updated);
  } else {
    // A database from before the counter: count once. The walk already sees
    // this transaction's own change, so its result is the new count.
    absl::Status walk = txn.ForEachWithPrefix(objects_, Be64(tenant_id), [&](auto, auto) {
      ++count;
      return true;
    });
    if (!walk.ok()) return walk;
  }
  return txn.Put(meta_, TenantCountKey(tenant_id), Be64(count));
}

absl::StatusOr<uint64_t> ObjectStore::CountTenant(uint64_t tenant_id) {
  std::optional<uint64_t> count;
  absl::Status status = env_->Read([&](Txn& txn) -> absl::Status {
    absl::StatusOr<std::optional<std::string_view>> current = txn.Get(meta_, TenantCountKey(tenant_id));
    if (!current.ok()) return current.status();
    if (current->has_value()) count = ReadBe64(**current);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (count.has_value()) return *count;
  // No counter yet (a database from before it): make it once.
  status = env_->Write([&](Txn& txn) -> absl::Status {
    HSM_STORAGE_RETURN_IF_ERROR(AddToTenantCount(txn, tenant_id, 0));
    absl::StatusOr<std::optional<std::string_view>> made = txn.Get(meta_, TenantCountKey(tenant_id));
    if (!made.ok()) return made.status();
    count = ReadBe64(**made);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return *count;
}

absl::StatusOr<uint64_t> ObjectStore::Create(TokenRef token, const AttributeSet& attributes,
                                             const std::set<uint64_t>& secret) {
  uint64_t id = 0;
  absl::Status status = env_->Write([&](Txn& txn) -> absl::Status {
    absl::StatusOr<std::optional<std::string_view>> next = txn.Get(meta_, NextIdKey(token));
    if (!next.ok()) return next.status();
    id = next->has_value() ? ReadBe64(**next) : 1;
    if (id >= kMaxObjectId) return absl::ResourceExhaustedError("the token has used all its object ids");
    absl::Status put = txn.Put(meta_, NextIdKey(token), Be64(id + 1));
    if (!put.ok()) return put;
    HSM_STORAGE_RETURN_IF_ERROR(Write(txn, token, id, attributes, secret));
    return AddToTenantCount(txn, token.tenant_id, 1);
  });
  if (!status.ok()) return status;
  return id;
}

absl::Status ObjectStore::Replace(TokenRef token, uint64_t id, const AttributeSet& attributes,
                                  const std::set<uint64_t>& secret) {
  return env_->Write([&](Txn& txn) -> absl::Status {
    absl::Status erased = Erase(txn, token, id);
    if (!erased.ok()) return erased;
    return Write(txn, token, id, attributes, secret);
  });
}

absl::Status ObjectStore::Destroy(TokenRef token, uint64_t id) {
  return env_->Write([&](Txn& txn) -> absl::Status {
    HSM_STORAGE_RETURN_IF_ERROR(Erase(txn, token, id));
    return AddToTenantCount(txn, token.tenant_id, -1);
  });
}

absl::Status ObjectStore::DestroyAll(TokenRef token) {
  return env_->Write([&](Txn& txn) -> absl::Status {
    std::vector<std::string> keys;
    int64_t destroyed = 0;
    for (MDB_dbi db : {objects_, index_}) {
      keys.clear();
      absl::Status walk = txn.ForEachWithPrefix(db, TokenPrefix(token), [&](std::string_view key, auto) {
        keys.emplace_back(key);
        return true;
      });
      if (!walk.ok()) return walk;
      if (db == objects_) destroyed = static_cast<int64_t>(keys.size());
      for (const std::string& key : keys) {
        absl::Status deleted = txn.Delete(db, key);
        if (!deleted.ok()) return deleted;
      }
    }
    return AddToTenantCount(txn, token.tenant_id, -destroyed);
  });
}

absl::StatusOr<std::optional<AttributeSet>> ObjectStore::Load(TokenRef token, uint64_t id) {
  StoredObject stored;
  bool found = false;
  absl::Status status = env_->Read([&](Txn& txn) -> absl::Status {
    absl::StatusOr<std::optional<std::string_view>> bytes = txn.Get(objects_, ObjectKey(token, id));
    if (!bytes.ok()) return bytes.status();
    if (!bytes->has_value()) return absl::OkStatus();
    found = true;
    return ParseObject(**bytes, stored);
  });
  if (!status.ok()) return status;
  if (!found) return std::optional<AttributeSet>();
  AttributeSet attributes;
  for (const hsm::v1::Attribute& attribute : stored.attributes()) attributes[attribute.type()] = attribute;
  for (const SealedAttribute& sealed : stored.sealed()) {
    absl::StatusOr<std::string> opened =
        sealer_->Open(token.tenant_id, token.slot_id, sealed.value(), SealBinding(token, id, sealed.type()));
    if (!opened.ok()) return opened.status();
    hsm::v1::Attribute& attribute = attributes[sealed.type()];
    if (!attribute.ParseFromString(*opened)) return absl::DataLossError("a sealed attribute does not parse");
  }
  return std::optional<AttributeSet>(std::move(attributes));
}

absl::StatusOr<std::vector<uint64_t>> ObjectStore::Find(TokenRef token, const AttributeSet& query,
                                                        const Matcher& match,
                                                        const std::function<void()>& on_long_search) {
  std::vector<uint64_t> ids;
  absl::Status status = env_->Read([&](Txn& txn) -> absl::Status {
    // Candidates: the most selective index the query names, or every object.
    std::vector<uint64_t> candidates;
    bool indexed = false;
    for (uint64_t kind : kIndexKinds) {
      std::optional<std::string> digest = IndexDigest(kind, query);
      if (!digest.has_value()) continue;
      const std::string prefix = IndexPrefix(token, kind, *digest);
      absl::Status walk = txn.ForEachWithPrefix(index_, prefix, [&](std::string_view key, auto) {
        candidates.push_back(ReadBe64(key.substr(prefix.size())));
        return true;
      });
      if (!walk.ok()) return walk;
      indexed = true;
      break;
    }
    StoredObject stored;
    AttributeSet plain;
    std::set<uint64_t> sealed;
    size_t considered = 0;
    auto consider = [&](std::string_view bytes) -> absl::Status {
      if (++considered == kLongSearchObjects && on_long_search) on_long_search();
      stored.Clear();
      plain.clear();
      sealed.clear();
      absl::Status parsed = ParseObject(bytes, stored);
      if (!parsed.ok()) return parsed;
      for (const hsm::v1::Attribute& attribute : stored.attributes()) plain[attribute.type()] = attribute;
      for (const SealedAttribute& attribute : stored.sealed()) sealed.insert(attribute.type());
      if (match(plain, sealed)) ids.push_back(stored.id());
      return absl::OkStatus();
    };
    if (indexed) {
      for (uint64_t id : candidates) {
        absl::StatusOr<std::optional<std::string_view>> bytes = txn.Get(objects_, ObjectKey(token, id));
        if (!bytes.ok()) return bytes.status();
        if (!bytes->has_value()) continue;
        absl::Status considered = consider(**bytes);
        if (!considered.ok()) return considered;
      }
      return absl::OkStatus();
    }
    absl::Status result;
    absl::Status walk = txn.ForEachWithPrefix(objects_, TokenPrefix(token), [&](auto, std::string_view bytes) {
      result = consider(bytes);
      return result.ok();
    });
    return walk.ok() ? result : walk;
  });
  if (!status.ok()) return status;
  std::sort(ids.begin(), ids.end());
  return ids;
}

absl::Status ObjectStore::Scan(TokenRef token,
                               const std::function<void(uint64_t id, const AttributeSet& plain)>& visit) {
  return env_->Read([&](Txn& txn) {
    absl::Status parsed;
    absl::Status walk = txn.ForEachWithPrefix(objects_, TokenPrefix(token), [&](auto, std::string_view bytes) {
      StoredObject stored;
      parsed = ParseObject(bytes, stored);
      if (!parsed.ok()) return false;
      AttributeSet plain;
      for (const hsm::v1::Attribute& attribute : stored.attributes()) plain[attribute.type()] = attribute;
      visit(stored.id(), plain);
      return true;
    });
    return walk.ok() ? parsed : walk;
  });
}

absl::StatusOr<size_t> ObjectStore::Count(TokenRef token) {
  size_t count = 0;
  absl::Status status = env_->Read([&](Txn& txn) {
    return txn.ForEachWithPrefix(objects_, TokenPrefix(token), [&](auto, auto) {
      ++count;
      return true;
    });
  });
  if (!status.ok()) return status;
  return count;
}

}  // namespace hsm::storage
