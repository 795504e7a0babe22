// Key pair and secret key generation. Attributes for the new objects are read
// back from the generated key, so what the client sees is what was made.
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "server/crypto/key_internal.h"
#include "server/crypto/key_material.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

constexpr CK_ULONG kMaxGenericSecretBytes = 512;

absl::StatusOr<EvpPkeyPtr> Generate(EVP_PKEY_CTX* ctx) {
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_generate(ctx, &pkey) != 1)
    return OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_generate");
  return AdoptPkey(pkey);
}

absl::StatusOr<GeneratedKeyPair> PairFromKey(EvpPkeyPtr key) {
  GeneratedKeyPair pair;
  HSM_ASSIGN_OR_RETURN(pair.public_attributes, PublicAttributesFromKey(key, nullptr));
  HSM_ASSIGN_OR_RETURN(pair.private_attributes, PrivateAttributesFromKey(key, nullptr));
  pair.key = std::move(key);
  return pair;
}

absl::StatusOr<GeneratedKeyPair> GenerateOnCurve(const std::string& ec_params_der,
                                                 CK_KEY_TYPE key_type) {
  HSM_ASSIGN_OR_RETURN(const CurveInfo* curve, CurveFromParams(ec_params_der));
  if (curve->key_type != key_type) {
    return RvError(CKR_CURVE_NOT_SUPPORTED, "curve does not suit the key pair mechanism");
  }
  EvpPkeyCtxPtr ctx(key_type == CKK_EC
                        ? EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)
                        : EVP_PKEY_CTX_new_from_name(nullptr, curve->group_name, nullptr));
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      (key_type == CKK_EC && EVP_PKEY_CTX_set_group_name(ctx.get(), curve->group_name) != 1)) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EC key generation setup");
  }
  HSM_ASSIGN_OR_RETURN(EvpPkeyPtr key, Generate(ctx.get()));
  HSM_ASSIGN_OR_RETURN(GeneratedKeyPair pair, PairFromKey(std::move(key)));
  // The objects keep the parameters the client asked with (an Ed25519 name
  // stays a name).
  pair.public_attributes[CKA_EC_PARAMS] = ec_params_der;
  pair.private_attributes[CKA_EC_PARAMS] = ec_params_der;
  return pair;
}

}  // namespace

absl::StatusOr<GeneratedKeyPair> GenerateRsaKeyPair(CK_ULONG modulus_bits,
                                                    const std::string& public_exponent_be) {
  if (modulus_bits < CK_ULONG{kMinRsaBits} || modulus_bits > CK_ULONG{kMaxRsaBits}) {
    return RvError(CKR_KEY_SIZE_RANGE, "RSA modulus size out of range");
  }
  BignumPtr exponent = BytesToBignum(
      public_exponent_be.empty() ? std::string("\x01\x00\x01", 3) : public_exponent_be, false);
  if (exponent == nullptr) return OpenSslError(CKR_HOST_MEMORY, "BN_bin2bn");
  // Over 256 bits is beyond what OpenSSL generates with (and what anyone uses).
  if (!BN_is_odd(exponent.get()) || BN_is_one(exponent.get()) ||
      BN_num_bits(exponent.get()) > 256) {
    return RvError(CKR_ATTRIBUTE_VALUE_INVALID, "RSA public exponent must be odd and > 1");
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(modulus_bits)) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), exponent.get()) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "RSA key generation setup");
  }
  HSM_ASSIGN_OR_RETURN(EvpPkeyPtr key, Generate(ctx.get()));
  return PairFromKey(std::move(key));
}

absl::StatusOr<GeneratedKeyPair> GenerateEcKeyPair(const std::string& ec_params_der) {
  return GenerateOnCurve(ec_params_der, CKK_EC);
}

absl::StatusOr<GeneratedKeyPair> GenerateEdwardsKeyPair(const std::string& ec_params_der) {
  return GenerateOnCurve(ec_params_der, CKK_EC_EDWARDS);
}

void SetDesOddParity(std::string& key) {
  for (char& c : key) {
    unsigned char byte = static_cast<unsigned char>(c) & 0xfe;
    int ones = __builtin_popcount(byte);
    c = static_cast<char>(byte | ((ones % 2 == 0) ? 1 : 0));
  }
}

absl::StatusOr<std::string> GenerateSecretKey(CK_KEY_TYPE type, CK_ULONG length_bytes) {
  bool size_ok = false;
  switch (type) {
    case CKK_AES:
      size_ok = length_bytes == 16 || length_bytes == 24 || length_bytes == 32;
      break;
    case CKK_DES3:
      size_ok = length_bytes == 24;
      break;
    case CKK_GENERIC_SECRET:
    case CKK_SHA_1_HMAC:
    case CKK_SHA224_HMAC:
    case CKK_SHA256_HMAC:
    case CKK_SHA384_HMAC:
    case CKK_SHA512_HMAC:
      size_ok = length_bytes >= 1 && length_bytes <= kMaxGenericSecretBytes;
      break;
    default:
      return RvError(CKR_KEY_TYPE_INCONSISTENT, "unsupported secret key type");
  }
  if (!size_ok) return RvError(CKR_KEY_SIZE_RANGE, "secret key length out of range");
  std::string key(length_bytes, '\0');
  if (RAND_priv_bytes(MutableBytes(key), static_cast<int>(key.size())) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "RAND_priv_bytes");
  }
  if (type == CKK_DES3) SetDesOddParity(key);
  return key;
}

}  // namespace hsm::server::crypto
