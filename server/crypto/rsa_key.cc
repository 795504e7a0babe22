// RSA keys from and to attributes. A private key is only accepted once its
// parts are shown to belong together: OpenSSL's pairwise check (primes that
// multiply to n, d and the CRT values derived from them) and an
// encrypt/decrypt round trip. A key given without CRT parts gets them
// recovered from (n, e, d) first (rsa_crt.cc).
#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include <array>

#include "server/crypto/key_internal.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

// Every private component of a valid key is below its modulus (RFC 8017
// section 3.2).
absl::Status CheckBelowModulus(const BIGNUM* component, const BIGNUM* modulus) {
  if (BN_cmp(component, modulus) >= 0) {
    return RvError(CKR_ATTRIBUTE_VALUE_INVALID, "RSA private component not below the modulus");
  }
  return absl::OkStatus();
}

struct CrtPart {
  CK_ATTRIBUTE_TYPE attribute;
  const char* param;
};
constexpr std::array<CrtPart, 5> kCrtParts = {{
    {CKA_PRIME_1, OSSL_PKEY_PARAM_RSA_FACTOR1},
    {CKA_PRIME_2, OSSL_PKEY_PARAM_RSA_FACTOR2},
    {CKA_EXPONENT_1, OSSL_PKEY_PARAM_RSA_EXPONENT1},
    {CKA_EXPONENT_2, OSSL_PKEY_PARAM_RSA_EXPONENT2},
    {CKA_COEFFICIENT, OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
}};

absl::Status PushNumber(OSSL_PARAM_BLD* bld, const char* param, const std::string& bytes,
                        bool secret, std::vector<BignumPtr>& keep) {
  BignumPtr bn = BytesToBignum(bytes, secret);
  if (bn == nullptr) return OpenSslError(CKR_HOST_MEMORY, "BN_bin2bn");
  if (BN_is_zero(bn.get())) return RvError(CKR_ATTRIBUTE_VALUE_INVALID, "zero RSA component");
  if (OSSL_PARAM_BLD_push_BN(bld, param, bn.get()) != 1) {
    return OpenSslError(CKR_HOST_MEMORY, "OSSL_PARAM_BLD_push_BN");
  }
  // The builder refers to the numbers until OSSL_PARAM_BLD_to_param.
  keep.push_back(std::move(bn));
  return absl::OkStatus();
}

// m^(e*d) = m mod n for a fixed m: the key works end to end through
// OpenSSL's private-key path.
absl::Status CheckRoundTrip(EVP_PKEY* pkey) {
  size_t k = static_cast<size_t>(EVP_PKEY_get_size(pkey));
  std::string message(k, '\0');
  message[k - 1] = 2;
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  std::string encrypted(k, '\0');
  std::string decrypted(k, '\0');
  size_t encrypted_length = k;
  size_t decrypted_length = k;
  if (ctx == nullptr || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING) != 1 ||
      EVP_PKEY_encrypt(ctx.get(), MutableBytes(encrypted), &encrypted_length, Bytes(message), k) !=
          1 ||
      EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING) != 1 ||
      EVP_PKEY_decrypt(ctx.get(), MutableBytes(decrypted), &decrypted_length, Bytes(encrypted),
                       encrypted_length) != 1) {
    return OpenSslError(CKR_ATTRIBUTE_VALUE_INVALID, "RSA private key does not work");
  }
  if (decrypted_length != k || decrypted != message) {
    return RvError(CKR_ATTRIBUTE_VALUE_INVALID,
                   "RSA private exponent does not match the public key");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EvpPkeyPtr> RsaKeyFromAttributes(const AttributeBytes& attrs, bool is_private, KeyCheck check) {
  HSM_ASSIGN_OR_RETURN(const std::string* modulus, RequiredAttribute(attrs, CKA_MODULUS));
  HSM_ASSIGN_OR_RETURN(const std::string* exponent, RequiredAttribute(attrs, CKA_PUBLIC_EXPONENT));
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr) return OpenSslError(CKR_HOST_MEMORY, "OSSL_PARAM_BLD_new");
  std::vector<BignumPtr> keep;
  HSM_RETURN_IF_ERROR(PushNumber(bld.get(), OSSL_PKEY_PARAM_RSA_N, *modulus, false, keep));
  HSM_RETURN_IF_ERROR(PushNumber(bld.get(), OSSL_PKEY_PARAM_RSA_E, *exponent, false, keep));
  // OpenSSL would take an even modulus or exponent and fail later, obscurely.
  if (!BN_is_odd(keep[0].get()) || !BN_is_odd(keep[1].get()) || BN_is_one(keep[1].get()) ||
      BN_cmp(keep[1].get(), keep[0].get()) >= 0) {
    return RvError(CKR_ATTRIBUTE_VALUE_INVALID, "RSA modulus or public exponent is not valid");
  }
  AttributeBytes recovered;
  // Checking a client's private key (recovering its primes, OpenSSL's
  // pairwise check and primality tests) takes more than cubic time in the
  // size of its numbers: a modulus far beyond every mechanism's range, or a
  // private component longer than the modulus, held an RPC thread for hours
  // (one C_CreateObject of a 131072-bit key, tests/integration/
  // hostile_rpc_test.cc). No usable key has either: both are refused before
  // any arithmetic.
  const bool full_check = is_private && check == KeyCheck::kFull;
  if (full_check && BN_num_bits(keep[0].get()) > kMaxRsaBits) {
    return RvError(CKR_ATTRIBUTE_VALUE_INVALID, "RSA modulus longer than any mechanism takes");
  }
  if (is_private) {
    HSM_ASSIGN_OR_RETURN(const std::string* d, RequiredAttribute(attrs, CKA_PRIVATE_EXPONENT));
    HSM_RETURN_IF_ERROR(PushNumber(bld.get(), OSSL_PKEY_PARAM_RSA_D, *d, true, keep));
    if (full_check) HSM_RETURN_IF_ERROR(CheckBelowModulus(keep.back().get(), keep[0].get()));
    size_t present = 0;
    for (const CrtPart& part : kCrtParts) present += attrs.count(part.attribute);
    if (present != 0 && present != kCrtParts.size()) {
      return RvError(CKR_TEMPLATE_INCOMPLETE, "RSA private key with only some CRT components");
    }
    if (present == 0) {
      HSM_ASSIGN_OR_RETURN(recovered, RecoverRsaCrt(*modulus, *exponent, *d));
    }
    const AttributeBytes& crt = present == 0 ? recovered : attrs;
    for (const CrtPart& part : kCrtParts) {
      HSM_RETURN_IF_ERROR(PushNumber(bld.get(), part.param, crt.at(part.attribute), true, keep));
      if (full_check) HSM_RETURN_IF_ERROR(CheckBelowModulus(keep.back().get(), keep[0].get()));
    }
  }
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  for (auto& [attribute, value] : recovered) OPENSSL_cleanse(value.data(), value.size());
  if (params == nullptr) return OpenSslError(CKR_HOST_MEMORY, "OSSL_PARAM_BLD_to_param");
  HSM_ASSIGN_OR_RETURN(
      EvpPkeyPtr pkey,
      PkeyFromData("RSA", is_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()));
  if (!is_private || check == KeyCheck::kAlreadyChecked) return pkey;
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (ctx == nullptr) return OpenSslError(CKR_HOST_MEMORY, "EVP_PKEY_CTX_new_from_pkey");
  // Primes that multiply to n, d*e = 1 mod lcm(p-1, q-1), and the CRT
  // exponents and coefficient derived from them.
  if (EVP_PKEY_pairwise_check(ctx.get()) != 1) {
    return OpenSslError(CKR_ATTRIBUTE_VALUE_INVALID, "RSA private key components are inconsistent");
  }
  HSM_RETURN_IF_ERROR(CheckRoundTrip(pkey.get()));
  return pkey;
}

absl::StatusOr<AttributeBytes> RsaAttributesFromKey(const EVP_PKEY* pkey, bool is_private) {
  struct Component {
    CK_ATTRIBUTE_TYPE attribute;
    const char* param;
    bool is_private;
    bool optional;
  };
  static constexpr Component kComponents[] = {
      {CKA_MODULUS, OSSL_PKEY_PARAM_RSA_N, false, false},
      {CKA_PUBLIC_EXPONENT, OSSL_PKEY_PARAM_RSA_E, false, false},
      {CKA_PRIVATE_EXPONENT, OSSL_PKEY_PARAM_RSA_D, true, false},
      {CKA_PRIME_1, OSSL_PKEY_PARAM_RSA_FACTOR1, true, true},
      {CKA_PRIME_2, OSSL_PKEY_PARAM_RSA_FACTOR2, true, true},
      {CKA_EXPONENT_1, OSSL_PKEY_PARAM_RSA_EXPONENT1, true, true},
      {CKA_EXPONENT_2, OSSL_PKEY_PARAM_RSA_EXPONENT2, true, true},
      {CKA_COEFFICIENT, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, true, true},
  };
  AttributeBytes attrs;
  for (const Component& component : kComponents) {
    if (component.is_private && !is_private) continue;
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(pkey, component.param, &raw) != 1) {
      ClearOpenSslErrors();
      if (component.optional) continue;
      return RvError(component.is_private ? CKR_KEY_TYPE_INCONSISTENT : CKR_FUNCTION_FAILED,
                     "RSA key lacks a required component");
    }
    BignumPtr bn(raw);
    attrs[component.attribute] = BignumToBytes(bn.get());
  }
  return attrs;
}

}  // namespace hsm::server::crypto
