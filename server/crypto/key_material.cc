// Dispatch by key type, and PKCS #8.
#include "server/crypto/key_material.h"

#include <openssl/core_names.h>
#include <openssl/x509.h>

#include "server/crypto/key_internal.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {

EvpPkeyPtr AdoptPkey(EVP_PKEY* pkey) {
  if (pkey == nullptr) return nullptr;
  return EvpPkeyPtr(pkey, EVP_PKEY_free);
}

absl::StatusOr<const std::string*> RequiredAttribute(const AttributeBytes& attrs,
                                                     CK_ATTRIBUTE_TYPE type) {
  auto it = attrs.find(type);
  if (it == attrs.end()) {
    return RvError(CKR_TEMPLATE_INCOMPLETE, "key template lacks a required attribute");
  }
  return &it->second;
}

absl::StatusOr<EvpPkeyPtr> PkeyFromData(const char* key_type, int selection, OSSL_PARAM* params) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, key_type, nullptr));
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_fromdata_init");
  }
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &pkey, selection, params) != 1) {
    return OpenSslError(CKR_ATTRIBUTE_VALUE_INVALID, "key values refused");
  }
  return AdoptPkey(pkey);
}

absl::StatusOr<CK_KEY_TYPE> KeyTypeOf(const EVP_PKEY* pkey) {
  if (pkey == nullptr) return RvError(CKR_KEY_TYPE_INCONSISTENT, "no key");
  if (EVP_PKEY_is_a(pkey, "RSA")) return CKK_RSA;
  HSM_ASSIGN_OR_RETURN(const CurveInfo* curve, CurveOfKey(pkey));
  return curve->key_type;
}

bool HasPrivateKey(const EVP_PKEY* pkey) {
  if (pkey == nullptr) return false;
  bool has = false;
  if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "EC")) {
    BIGNUM* raw = nullptr;
    has = EVP_PKEY_get_bn_param(
              pkey, EVP_PKEY_is_a(pkey, "RSA") ? OSSL_PKEY_PARAM_RSA_D : OSSL_PKEY_PARAM_PRIV_KEY,
              &raw) == 1;
    BN_clear_free(raw);
  } else {
    size_t length = 0;
    has = EVP_PKEY_get_raw_private_key(pkey, nullptr, &length) == 1;
  }
  ClearOpenSslErrors();
  return has;
}

namespace {

absl::StatusOr<EvpPkeyPtr> KeyFromAttributes(CK_KEY_TYPE type, const AttributeBytes& attrs, bool is_private,
                                             KeyCheck check) {
  switch (type) {
    case CKK_RSA:
      return RsaKeyFromAttributes(attrs, is_private, check);
    case CKK_EC:
    case CKK_EC_EDWARDS:
      return EcKeyFromAttributes(type, attrs, is_private);
    default:
      return RvError(CKR_KEY_TYPE_INCONSISTENT, "unsupported asymmetric key type");
  }
}

absl::StatusOr<AttributeBytes> AttributesFromKey(const EvpPkeyPtr& key, CK_KEY_TYPE* type,
                                                 bool is_private) {
  HSM_ASSIGN_OR_RETURN(CK_KEY_TYPE key_type, KeyTypeOf(key.get()));
  if (type != nullptr) *type = key_type;
  if (key_type == CKK_RSA) return RsaAttributesFromKey(key.get(), is_private);
  return EcAttributesFromKey(key.get(), is_private);
}

}  // namespace

absl::StatusOr<EvpPkeyPtr> PrivateKeyFromAttributes(CK_KEY_TYPE type, const AttributeBytes& attrs, KeyCheck check) {
  return KeyFromAttributes(type, attrs, /*is_private=*/true, check);
}

absl::StatusOr<EvpPkeyPtr> PublicKeyFromAttributes(CK_KEY_TYPE type, const AttributeBytes& attrs) {
  return KeyFromAttributes(type, attrs, /*is_private=*/false, KeyCheck::kFull);
}

absl::StatusOr<AttributeBytes> PublicAttributesFromKey(const EvpPkeyPtr& key, CK_KEY_TYPE* type) {
  return AttributesFromKey(key, type, /*is_private=*/false);
}

absl::StatusOr<AttributeBytes> PrivateAttributesFromKey(const EvpPkeyPtr& key, CK_KEY_TYPE* type) {
  return AttributesFromKey(key, type, /*is_private=*/true);
}

absl::Status CheckPublicMatchesPrivate(const EvpPkeyPtr& public_key,
                                       const EvpPkeyPtr& private_key) {
  HSM_ASSIGN_OR_RETURN(CK_KEY_TYPE public_type, KeyTypeOf(public_key.get()));
  HSM_ASSIGN_OR_RETURN(CK_KEY_TYPE private_type, KeyTypeOf(private_key.get()));
  if (public_type != private_type) {
    return RvError(CKR_KEY_TYPE_INCONSISTENT, "public and private keys are of different types");
  }
  // EVP_PKEY_eq compares the public components (and the domain parameters).
  if (EVP_PKEY_eq(public_key.get(), private_key.get()) != 1) {
    ClearOpenSslErrors();
    return RvError(CKR_ATTRIBUTE_VALUE_INVALID, "public key does not match the private key");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PrivateKeyToPkcs8(const EvpPkeyPtr& key) {
  HSM_RETURN_IF_ERROR(KeyTypeOf(key.get()).status());
  Pkcs8InfoPtr info(EVP_PKEY2PKCS8(key.get()));
  if (info == nullptr) return OpenSslError(CKR_KEY_UNEXTRACTABLE, "EVP_PKEY2PKCS8");
  int length = i2d_PKCS8_PRIV_KEY_INFO(info.get(), nullptr);
  if (length <= 0) return OpenSslError(CKR_FUNCTION_FAILED, "i2d_PKCS8_PRIV_KEY_INFO");
  std::string der(static_cast<size_t>(length), '\0');
  unsigned char* out = MutableBytes(der);
  if (i2d_PKCS8_PRIV_KEY_INFO(info.get(), &out) != length) {
    return OpenSslError(CKR_FUNCTION_FAILED, "i2d_PKCS8_PRIV_KEY_INFO");
  }
  return der;
}

absl::StatusOr<EvpPkeyPtr> PrivateKeyFromPkcs8(const std::string& der) {
  const unsigned char* in = Bytes(der);
  Pkcs8InfoPtr info(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &in, static_cast<long>(der.size())));
  if (info == nullptr || in != Bytes(der) + der.size()) {
    return OpenSslError(CKR_WRAPPED_KEY_INVALID, "not a DER PrivateKeyInfo");
  }
  EvpPkeyPtr decoded = AdoptPkey(EVP_PKCS82PKEY(info.get()));
  if (decoded == nullptr) return OpenSslError(CKR_WRAPPED_KEY_INVALID, "EVP_PKCS82PKEY");
  // Rebuilding the key from its attributes applies the same checks as
  // C_CreateObject (consistent RSA parts, a scalar in range), and gives one
  // representation whatever the encoder chose.
  CK_KEY_TYPE type = 0;
  absl::StatusOr<AttributeBytes> attrs = PrivateAttributesFromKey(decoded, &type);
  absl::StatusOr<EvpPkeyPtr> key = attrs.ok() ? PrivateKeyFromAttributes(type, *attrs)
                                              : absl::StatusOr<EvpPkeyPtr>(attrs.status());
  if (attrs.ok()) {
    for (auto& [attribute, value] : *attrs) OPENSSL_cleanse(value.data(), value.size());
  }
  if (!key.ok()) {
    return RvError(CKR_WRAPPED_KEY_INVALID,
                   "unsupported or invalid PKCS #8 key: " + std::string(key.status().message()));
  }
  return key;
}

}  // namespace hsm::server::crypto
