#include "server/crypto/mechanism_table.h"

#include <algorithm>

#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

constexpr CK_FLAGS kRsaRaw = CKF_ENCRYPT | CKF_DECRYPT | CKF_SIGN | CKF_VERIFY | CKF_SIGN_RECOVER |
                             CKF_VERIFY_RECOVER | CKF_WRAP | CKF_UNWRAP;
constexpr CK_FLAGS kCipherAndWrap = CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP;
constexpr CK_FLAGS kSignVerify = CKF_SIGN | CKF_VERIFY;
constexpr CK_FLAGS kEcFlags = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;

constexpr CK_ULONG kRsaMin = 1024, kRsaMax = 8192;  // bits
constexpr CK_ULONG kEcMin = 256, kEcMax = 521;      // bits
constexpr CK_ULONG kAesMin = 16, kAesMax = 32;      // bytes
constexpr CK_ULONG kDes3 = 24;                      // bytes
constexpr CK_ULONG kHmacMin = 1, kHmacMax = 512;    // bytes

// Each mechanism with its flags, sizes and the key types it takes.
struct Entry {
  MechanismInfo info;
  std::vector<CK_KEY_TYPE> key_types;
};

std::vector<CK_KEY_TYPE> HmacKeys(CK_KEY_TYPE specific) { return {CKK_GENERIC_SECRET, specific}; }

const std::vector<Entry>& Entries() {
  static const auto* entries = [] {
    auto* table = new std::vector<Entry>{
        // RSA
        {{CKM_RSA_PKCS_KEY_PAIR_GEN, kRsaMin, kRsaMax, CKF_GENERATE_KEY_PAIR}, {CKK_RSA}},
        {{CKM_RSA_PKCS, kRsaMin, kRsaMax, kRsaRaw}, {CKK_RSA}},
        {{CKM_RSA_X_509, kRsaMin, kRsaMax, kRsaRaw}, {CKK_RSA}},
        {{CKM_RSA_PKCS_OAEP, kRsaMin, kRsaMax, kCipherAndWrap}, {CKK_RSA}},
        {{CKM_RSA_PKCS_PSS, kRsaMin, kRsaMax, kSignVerify}, {CKK_RSA}},
        {{CKM_SHA1_RSA_PKCS, kRsaMin, kRsaMax, kSignVerify}, {CKK_RSA}},
        {{CKM_SHA224_RSA_PKCS, kRsaMin, kRsaMax, kSignVerify}, {CKK_RSA}},
        {{CKM_SHA256_RSA_PKCS, kRsaMin, kRsaMax, kSignVerify}, {CKK_RSA}},
        {{CKM_SHA384_RSA_PKCS, kRsaMin, kRsaMax, kSignVerify}, {CKK_RSA}},
        {{CKM_SHA512_RSA_PKCS, kRsaMin, kRsaMax, kSignVerify}, {CKK_RSA}},
        {{CKM_SHA1_RSA_PKCS_PSS, kRsaMin, kRsaMax, kSignVerify}, {CKK_RSA}},
        {{CKM_SHA224_RSA_PKCS_PSS, kRsaMin, kRsaMax, kSignVerify}, {CKK_RSA}},
        {{CKM_SHA256_RSA_PKCS_PSS, kRsaMin, kRsaMax, kSignVerify}, {CKK_RSA}},
        {{CKM_SHA384_RSA_PKCS_PSS, kRsaMin, kRsaMax, kSignVerify}, {CKK_RSA}},
        {{CKM_SHA512_RSA_PKCS_PSS, kRsaMin, kRsaMax, kSignVerify}, {CKK_RSA}},
        // EC
        {{CKM_EC_KEY_PAIR_GEN, kEcMin, kEcMax, CKF_GENERATE_KEY_PAIR | kEcFlags}, {CKK_EC}},
        {{CKM_ECDSA, kEcMin, kEcMax, kSignVerify | kEcFlags}, {CKK_EC}},
        {{CKM_ECDSA_SHA1, kEcMin, kEcMax, kSignVerify | kEcFlags}, {CKK_EC}},
        {{CKM_ECDSA_SHA224, kEcMin, kEcMax, kSignVerify | kEcFlags}, {CKK_EC}},
        {{CKM_ECDSA_SHA256, kEcMin, kEcMax, kSignVerify | kEcFlags}, {CKK_EC}},
        {{CKM_ECDSA_SHA384, kEcMin, kEcMax, kSignVerify | kEcFlags}, {CKK_EC}},
        {{CKM_ECDSA_SHA512, kEcMin, kEcMax, kSignVerify | kEcFlags}, {CKK_EC}},
        {{CKM_ECDH1_DERIVE, kEcMin, kEcMax, CKF_DERIVE | kEcFlags}, {CKK_EC}},
        // Ed25519 only.
        {{CKM_EC_EDWARDS_KEY_PAIR_GEN, 256, 256, CKF_GENERATE_KEY_PAIR}, {CKK_EC_EDWARDS}},
        {{CKM_EDDSA, 256, 256, kSignVerify}, {CKK_EC_EDWARDS}},
        // AES
        {{CKM_AES_KEY_GEN, kAesMin, kAesMax, CKF_GENERATE}, {CKK_AES}},
        {{CKM_AES_ECB, kAesMin, kAesMax, kCipherAndWrap}, {CKK_AES}},
        {{CKM_AES_CBC, kAesMin, kAesMax, kCipherAndWrap}, {CKK_AES}},
        {{CKM_AES_CBC_PAD, kAesMin, kAesMax, kCipherAndWrap}, {CKK_AES}},
        {{CKM_AES_CTR, kAesMin, kAesMax, CKF_ENCRYPT | CKF_DECRYPT}, {CKK_AES}},
        {{CKM_AES_GCM, kAesMin, kAesMax, CKF_ENCRYPT | CKF_DECRYPT}, {CKK_AES}},
        {{CKM_AES_CMAC, kAesMin, kAesMax, kSignVerify}, {CKK_AES}},
        {{CKM_AES_KEY_WRAP, kAesMin, kAesMax, kCipherAndWrap}, {CKK_AES}},
        {{CKM_AES_KEY_WRAP_PAD, kAesMin, kAesMax, kCipherAndWrap}, {CKK_AES}},
        // DES3
        {{CKM_DES3_KEY_GEN, kDes3, kDes3, CKF_GENERATE}, {CKK_DES3}},
        {{CKM_DES3_ECB, kDes3, kDes3, kCipherAndWrap}, {CKK_DES3}},
        {{CKM_DES3_CBC, kDes3, kDes3, kCipherAndWrap}, {CKK_DES3}},
        {{CKM_DES3_CBC_PAD, kDes3, kDes3, kCipherAndWrap}, {CKK_DES3}},
        // Digests
        {{CKM_MD5, 0, 0, CKF_DIGEST}, {}},
        {{CKM_SHA_1, 0, 0, CKF_DIGEST}, {}},
        {{CKM_SHA224, 0, 0, CKF_DIGEST}, {}},
        {{CKM_SHA256, 0, 0, CKF_DIGEST}, {}},
        {{CKM_SHA384, 0, 0, CKF_DIGEST}, {}},
        {{CKM_SHA512, 0, 0, CKF_DIGEST}, {}},
        // HMAC and generic secrets (key generation counts in bits, per the
        // standard's generic secret key generation section).
        {{CKM_SHA_1_HMAC, kHmacMin, kHmacMax, kSignVerify}, HmacKeys(CKK_SHA_1_HMAC)},
        {{CKM_SHA224_HMAC, kHmacMin, kHmacMax, kSignVerify}, HmacKeys(CKK_SHA224_HMAC)},
        {{CKM_SHA256_HMAC, kHmacMin, kHmacMax, kSignVerify}, HmacKeys(CKK_SHA256_HMAC)},
        {{CKM_SHA384_HMAC, kHmacMin, kHmacMax, kSignVerify}, HmacKeys(CKK_SHA384_HMAC)},
        {{CKM_SHA512_HMAC, kHmacMin, kHmacMax, kSignVerify}, HmacKeys(CKK_SHA512_HMAC)},
        {{CKM_GENERIC_SECRET_KEY_GEN, 8 * kHmacMin, 8 * kHmacMax, CKF_GENERATE},
         {CKK_GENERIC_SECRET, CKK_SHA_1_HMAC, CKK_SHA224_HMAC, CKK_SHA256_HMAC, CKK_SHA384_HMAC,
          CKK_SHA512_HMAC}},
    };
    std::sort(table->begin(), table->end(),
              [](const Entry& a, const Entry& b) { return a.info.type < b.info.type; });
    return table;
  }();
  return *entries;
}

const Entry* FindEntry(CK_MECHANISM_TYPE type) {
  const std::vector<Entry>& entries = Entries();
  auto it = std::lower_bound(entries.begin(), entries.end(), type,
                             [](const Entry& e, CK_MECHANISM_TYPE t) { return e.info.type < t; });
  return it != entries.end() && it->info.type == type ? &*it : nullptr;
}

}  // namespace

const std::vector<MechanismInfo>& Mechanisms() {
  static const auto* infos = [] {
    auto* list = new std::vector<MechanismInfo>;
    for (const Entry& entry : Entries()) list->push_back(entry.info);
    return list;
  }();
  return *infos;
}

const MechanismInfo* FindMechanism(CK_MECHANISM_TYPE type) {
  const Entry* entry = FindEntry(type);
  return entry == nullptr ? nullptr : &entry->info;
}

absl::Status CheckKeyTypeForMechanism(CK_MECHANISM_TYPE mechanism, CK_KEY_TYPE key_type) {
  const Entry* entry = FindEntry(mechanism);
  if (entry == nullptr) return RvError(CKR_MECHANISM_INVALID, "unsupported mechanism");
  if (std::find(entry->key_types.begin(), entry->key_types.end(), key_type) ==
      entry->key_types.end()) {
    return RvError(CKR_KEY_TYPE_INCONSISTENT, "key type does not suit the mechanism");
  }
  return absl::OkStatus();
}

}  // namespace hsm::server::crypto
