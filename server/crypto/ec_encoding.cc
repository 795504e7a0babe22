// Curves by CKA_EC_PARAMS, and CKA_EC_POINT's DER OCTET STRING wrapping.
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>

#include <optional>
#include <string_view>
#include <vector>

#include "server/crypto/key_material.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

constexpr unsigned char kTagOctetString = 0x04;
constexpr unsigned char kTagOid = 0x06;
constexpr unsigned char kTagPrintableString = 0x13;

const std::vector<CurveInfo>& CurveTable() {
  // Never destroyed: keys may be looked up during static destruction.
  static const auto* table = new std::vector<CurveInfo>{
      {Curve::kP256, "prime256v1", CKK_EC, 32, 256,
       std::string("\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10), NID_X9_62_prime256v1},
      {Curve::kP384, "secp384r1", CKK_EC, 48, 384, std::string("\x06\x05\x2b\x81\x04\x00\x22", 7),
       NID_secp384r1},
      {Curve::kP521, "secp521r1", CKK_EC, 66, 521, std::string("\x06\x05\x2b\x81\x04\x00\x23", 7),
       NID_secp521r1},
      {Curve::kEd25519, "ED25519", CKK_EC_EDWARDS, 32, 256, std::string("\x06\x03\x2b\x65\x70", 5),
       NID_ED25519},
  };
  return *table;
}

const CurveInfo* CurveByNid(int nid) {
  for (const CurveInfo& curve : CurveTable()) {
    if (curve.nid == nid) return &curve;
  }
  return nullptr;
}

// The contents of a DER TLV with tag `tag` that spans all of `der`.
std::optional<std::string_view> DerContents(std::string_view der, unsigned char tag) {
  if (der.size() < 2 || static_cast<unsigned char>(der[0]) != tag) return std::nullopt;
  size_t length = static_cast<unsigned char>(der[1]);
  size_t header = 2;
  if (length & 0x80) {
    size_t length_bytes = length & 0x7f;
    // Lengths of up to 4 bytes are far more than any point or OID needs.
    if (length_bytes == 0 || length_bytes > 4 || der.size() < 2 + length_bytes) return std::nullopt;
    length = 0;
    for (size_t i = 0; i < length_bytes; ++i) {
      length = (length << 8) | static_cast<unsigned char>(der[2 + i]);
    }
    header += length_bytes;
  }
  if (der.size() != header + length) return std::nullopt;
  return der.substr(header);
}

size_t PointLength(const CurveInfo& curve) {
  return curve.key_type == CKK_EC_EDWARDS ? curve.field_bytes : 1 + 2 * curve.field_bytes;
}

bool IsPoint(std::string_view point, const CurveInfo& curve) {
  if (point.size() != PointLength(curve)) return false;
  // Weierstrass points must be uncompressed (CKF_EC_UNCOMPRESS only).
  return curve.key_type == CKK_EC_EDWARDS || static_cast<unsigned char>(point[0]) == 0x04;
}

}  // namespace

absl::StatusOr<const CurveInfo*> CurveFromParams(const std::string& ec_params_der) {
  for (const CurveInfo& curve : CurveTable()) {
    if (curve.oid_der == ec_params_der) return &curve;
  }
  if (std::optional<std::string_view> name = DerContents(ec_params_der, kTagPrintableString)) {
    if (*name == "edwards25519") return CurveByNid(NID_ED25519);
    return RvError(CKR_CURVE_NOT_SUPPORTED, "unsupported curve name in CKA_EC_PARAMS");
  }
  if (std::optional<std::string_view> oid = DerContents(ec_params_der, kTagOid)) {
    if (!oid->empty())
      return RvError(CKR_CURVE_NOT_SUPPORTED, "unsupported curve in CKA_EC_PARAMS");
  }
  return RvError(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_EC_PARAMS is not a named curve");
}

absl::StatusOr<const CurveInfo*> CurveOfKey(const EVP_PKEY* pkey) {
  if (pkey == nullptr) return RvError(CKR_KEY_TYPE_INCONSISTENT, "no key");
  if (EVP_PKEY_is_a(pkey, "ED25519")) return CurveByNid(NID_ED25519);
  if (!EVP_PKEY_is_a(pkey, "EC")) return RvError(CKR_KEY_TYPE_INCONSISTENT, "not an EC key");
  char name[64];
  size_t name_length = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
                                     &name_length) != 1) {
    ClearOpenSslErrors();
    return RvError(CKR_CURVE_NOT_SUPPORTED, "EC key without a named curve");
  }
  int nid = OBJ_sn2nid(name);
  if (nid == NID_undef) nid = EC_curve_nist2nid(name);
  const CurveInfo* curve = nid == NID_ED25519 ? nullptr : CurveByNid(nid);
  if (curve == nullptr) return RvError(CKR_CURVE_NOT_SUPPORTED, "unsupported curve");
  return curve;
}

absl::StatusOr<size_t> EcFieldBytes(const EVP_PKEY* pkey) {
  HSM_ASSIGN_OR_RETURN(const CurveInfo* curve, CurveOfKey(pkey));
  if (curve->key_type != CKK_EC) return RvError(CKR_KEY_TYPE_INCONSISTENT, "not an EC key");
  return curve->field_bytes;
}

std::string EncodeEcPoint(const std::string& point) {
  std::string der(1, static_cast<char>(kTagOctetString));
  if (point.size() < 0x80) {
    der.push_back(static_cast<char>(point.size()));
  } else if (point.size() <= 0xff) {
    der.push_back(static_cast<char>(0x81));
    der.push_back(static_cast<char>(point.size()));
  } else {
    der.push_back(static_cast<char>(0x82));
    der.push_back(static_cast<char>(point.size() >> 8));
    der.push_back(static_cast<char>(point.size() & 0xff));
  }
  return der + point;
}

absl::StatusOr<std::string> DecodeEcPoint(const std::string& ec_point, const CurveInfo& curve) {
  // A bare uncompressed point also starts with 0x04, so the DER reading wins
  // only if what it wraps is a point of the right size.
  std::optional<std::string_view> inner = DerContents(ec_point, kTagOctetString);
  if (inner.has_value() && IsPoint(*inner, curve)) return std::string(*inner);
  if (IsPoint(ec_point, curve)) return ec_point;
  return RvError(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_EC_POINT is not a point of the key's curve");
}

}  // namespace hsm::server::crypto
