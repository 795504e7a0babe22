// EC (P-256/384/521) and Ed25519 keys from and to attributes. An EC private
// key gets its public point computed here, so that every EC key this library
// makes can be exported (PKCS #8) and read back (CKA_EC_POINT) whole.
#include <openssl/core_names.h>
#include <openssl/ec.h>

#include "server/crypto/key_internal.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

constexpr size_t kEd25519KeyBytes = 32;

absl::StatusOr<std::string> PublicPointFromScalar(const CurveInfo& curve, const BIGNUM* d) {
  EcGroupPtr group(EC_GROUP_new_by_curve_name(curve.nid));
  BnCtxPtr bn_ctx(BN_CTX_secure_new());
  if (group == nullptr || bn_ctx == nullptr) return OpenSslError(CKR_HOST_MEMORY, "EC group");
  // PKCS #11 stores the scalar as given; it must be a valid private key.
  if (BN_is_zero(d) || BN_is_negative(d) || BN_cmp(d, EC_GROUP_get0_order(group.get())) >= 0) {
    return RvError(CKR_ATTRIBUTE_VALUE_INVALID, "EC private value is out of range");
  }
  EcPointPtr point(EC_POINT_new(group.get()));
  if (point == nullptr ||
      EC_POINT_mul(group.get(), point.get(), d, nullptr, nullptr, bn_ctx.get()) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EC_POINT_mul");
  }
  std::string encoded(1 + 2 * curve.field_bytes, '\0');
  if (EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED,
                         MutableBytes(encoded), encoded.size(), bn_ctx.get()) != encoded.size()) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EC_POINT_point2oct");
  }
  return encoded;
}

absl::StatusOr<EvpPkeyPtr> WeierstrassKey(const CurveInfo& curve, const AttributeBytes& attrs,
                                          bool is_private) {
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                                        curve.group_name, 0) != 1) {
    return OpenSslError(CKR_HOST_MEMORY, "OSSL_PARAM_BLD");
  }
  std::string point;
  BignumPtr d;
  if (is_private) {
    HSM_ASSIGN_OR_RETURN(const std::string* value, RequiredAttribute(attrs, CKA_VALUE));
    d = BytesToBignum(*value, /*secure=*/true);
    if (d == nullptr) return OpenSslError(CKR_HOST_MEMORY, "BN_bin2bn");
    HSM_ASSIGN_OR_RETURN(point, PublicPointFromScalar(curve, d.get()));
    if (OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1) {
      return OpenSslError(CKR_HOST_MEMORY, "OSSL_PARAM_BLD_push_BN");
    }
  } else {
    HSM_ASSIGN_OR_RETURN(const std::string* ec_point, RequiredAttribute(attrs, CKA_EC_POINT));
    HSM_ASSIGN_OR_RETURN(point, DecodeEcPoint(*ec_point, curve));
  }
  if (OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return OpenSslError(CKR_HOST_MEMORY, "OSSL_PARAM_BLD_push_octet_string");
  }
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (params == nullptr) return OpenSslError(CKR_HOST_MEMORY, "OSSL_PARAM_BLD_to_param");
  HSM_ASSIGN_OR_RETURN(
      EvpPkeyPtr pkey,
      PkeyFromData("EC", is_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()));
  if (!is_private) {
    // Decoding already rejects points off the curve; this also rejects the
    // point at infinity and points outside the prime-order subgroup.
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (ctx == nullptr || EVP_PKEY_public_check(ctx.get()) != 1) {
      return OpenSslError(CKR_ATTRIBUTE_VALUE_INVALID, "EC public point is not valid");
    }
  }
  return pkey;
}

absl::StatusOr<EvpPkeyPtr> Ed25519Key(const CurveInfo& curve, const AttributeBytes& attrs,
                                      bool is_private) {
  std::string raw;
  if (is_private) {
    HSM_ASSIGN_OR_RETURN(const std::string* value, RequiredAttribute(attrs, CKA_VALUE));
    raw = *value;
  } else {
    HSM_ASSIGN_OR_RETURN(const std::string* ec_point, RequiredAttribute(attrs, CKA_EC_POINT));
    HSM_ASSIGN_OR_RETURN(raw, DecodeEcPoint(*ec_point, curve));
  }
  if (raw.size() != kEd25519KeyBytes) {
    return RvError(CKR_ATTRIBUTE_VALUE_INVALID, "Ed25519 key is not 32 bytes");
  }
  EVP_PKEY* pkey = is_private ? EVP_PKEY_new_raw_private_key_ex(nullptr, curve.group_name, nullptr,
                                                                Bytes(raw), raw.size())
                              : EVP_PKEY_new_raw_public_key_ex(nullptr, curve.group_name, nullptr,
                                                               Bytes(raw), raw.size());
  OPENSSL_cleanse(raw.data(), raw.size());
  if (pkey == nullptr) return OpenSslError(CKR_ATTRIBUTE_VALUE_INVALID, "Ed25519 key");
  return AdoptPkey(pkey);
}

absl::StatusOr<std::string> UncompressedPublicPoint(const EVP_PKEY* pkey, const CurveInfo& curve) {
  size_t length = 0;
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0, &length) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EC key without a public point");
  }
  std::string point(length, '\0');
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, MutableBytes(point), length,
                                      &length) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_get_octet_string_param");
  }
  point.resize(length);
  if (point.size() == 1 + 2 * curve.field_bytes && point[0] == 0x04) return point;
  // A key decoded from PKCS #8 keeps the encoding it came with; clients get
  // the uncompressed form PKCS #11 expects.
  EcGroupPtr group(EC_GROUP_new_by_curve_name(curve.nid));
  EcPointPtr ec_point(group == nullptr ? nullptr : EC_POINT_new(group.get()));
  std::string uncompressed(1 + 2 * curve.field_bytes, '\0');
  if (ec_point == nullptr ||
      EC_POINT_oct2point(group.get(), ec_point.get(), Bytes(point), point.size(), nullptr) != 1 ||
      EC_POINT_point2oct(group.get(), ec_point.get(), POINT_CONVERSION_UNCOMPRESSED,
                         MutableBytes(uncompressed), uncompressed.size(),
                         nullptr) != uncompressed.size()) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EC point conversion");
  }
  return uncompressed;
}

}  // namespace

absl::StatusOr<EvpPkeyPtr> EcKeyFromAttributes(CK_KEY_TYPE type, const AttributeBytes& attrs,
                                               bool is_private) {
  HSM_ASSIGN_OR_RETURN(const std::string* params, RequiredAttribute(attrs, CKA_EC_PARAMS));
  HSM_ASSIGN_OR_RETURN(const CurveInfo* curve, CurveFromParams(*params));
  if (curve->key_type != type) {
    return RvError(CKR_CURVE_NOT_SUPPORTED, "CKA_EC_PARAMS names a curve of another key type");
  }
  if (type == CKK_EC_EDWARDS) return Ed25519Key(*curve, attrs, is_private);
  return WeierstrassKey(*curve, attrs, is_private);
}

absl::StatusOr<AttributeBytes> EcAttributesFromKey(const EVP_PKEY* pkey, bool is_private) {
  HSM_ASSIGN_OR_RETURN(const CurveInfo* curve, CurveOfKey(pkey));
  AttributeBytes attrs;
  attrs[CKA_EC_PARAMS] = curve->oid_der;
  if (curve->key_type == CKK_EC_EDWARDS) {
    std::string raw(kEd25519KeyBytes, '\0');
    size_t length = raw.size();
    int ok = is_private ? EVP_PKEY_get_raw_private_key(pkey, MutableBytes(raw), &length)
                        : EVP_PKEY_get_raw_public_key(pkey, MutableBytes(raw), &length);
    if (ok != 1 || length != kEd25519KeyBytes) {
      return OpenSslError(is_private ? CKR_KEY_TYPE_INCONSISTENT : CKR_FUNCTION_FAILED,
                          "Ed25519 raw key");
    }
    if (is_private) {
      attrs[CKA_VALUE] = std::move(raw);
    } else {
      attrs[CKA_EC_POINT] = EncodeEcPoint(raw);
    }
    return attrs;
  }
  if (is_private) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &raw) != 1) {
      return OpenSslError(CKR_KEY_TYPE_INCONSISTENT, "EC key without a private value");
    }
    BignumPtr d(raw);
    attrs[CKA_VALUE] = BignumToBytes(d.get(), curve->field_bytes);
  } else {
    HSM_ASSIGN_OR_RETURN(std::string point, UncompressedPublicPoint(pkey, *curve));
    attrs[CKA_EC_POINT] = EncodeEcPoint(point);
  }
  return attrs;
}

}  // namespace hsm::server::crypto
