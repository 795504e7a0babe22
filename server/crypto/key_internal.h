// Per-family halves of key_material.h, shared by its implementation files.
#ifndef HSM_SERVER_CRYPTO_KEY_INTERNAL_H_
#define HSM_SERVER_CRYPTO_KEY_INTERNAL_H_

#include <openssl/evp.h>

#include <string>

#include "absl/status/statusor.h"
#include "server/crypto/key_material.h"

namespace hsm::server::crypto {

// The attribute `type`, or CKR_TEMPLATE_INCOMPLETE.
absl::StatusOr<const std::string*> RequiredAttribute(const AttributeBytes& attrs,
                                                     CK_ATTRIBUTE_TYPE type);

// EVP_PKEY_fromdata for `key_type` ("RSA", "EC"); CKR_ATTRIBUTE_VALUE_INVALID
// if OpenSSL refuses the values.
absl::StatusOr<EvpPkeyPtr> PkeyFromData(const char* key_type, int selection, OSSL_PARAM* params);

// rsa_key.cc
absl::StatusOr<EvpPkeyPtr> RsaKeyFromAttributes(const AttributeBytes& attrs, bool is_private,
                                                KeyCheck check = KeyCheck::kFull);
absl::StatusOr<AttributeBytes> RsaAttributesFromKey(const EVP_PKEY* pkey, bool is_private);
// rsa_crt.cc: CKA_PRIME_1/2, CKA_EXPONENT_1/2 and CKA_COEFFICIENT from the
// modulus and exponents; CKR_ATTRIBUTE_VALUE_INVALID if d does not fit.
absl::StatusOr<AttributeBytes> RecoverRsaCrt(const std::string& modulus,
                                             const std::string& public_exponent,
                                             const std::string& private_exponent);

// ec_key.cc (Weierstrass curves and Ed25519)
absl::StatusOr<EvpPkeyPtr> EcKeyFromAttributes(CK_KEY_TYPE type, const AttributeBytes& attrs,
                                               bool is_private);
absl::StatusOr<AttributeBytes> EcAttributesFromKey(const EVP_PKEY* pkey, bool is_private);

}  // namespace hsm::server::crypto

#endif  // HSM_SERVER_CRYPTO_KEY_INTERNAL_H_
