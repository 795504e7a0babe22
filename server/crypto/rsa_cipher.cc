// RSA encryption: PKCS #1 v1.5, OAEP (hash, MGF1 hash and label from the
// parameters) and raw X.509. All single-part.
#include <openssl/crypto.h>
#include <openssl/rsa.h>

#include "server/crypto/families.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

constexpr size_t kPkcs1Overhead = 11;

struct RsaCipherScheme {
  int padding = RSA_PKCS1_PADDING;
  const EVP_MD* oaep_md = nullptr;
  const EVP_MD* mgf1 = nullptr;
  std::string label;
};

absl::StatusOr<RsaCipherScheme> SchemeFor(const MechanismParams& params) {
  RsaCipherScheme scheme;
  switch (params.type) {
    case CKM_RSA_PKCS:
      return scheme;
    case CKM_RSA_X_509:
      scheme.padding = RSA_NO_PADDING;
      return scheme;
    case CKM_RSA_PKCS_OAEP:
      break;
    default:
      return RvError(CKR_MECHANISM_INVALID, "not an RSA encryption mechanism");
  }
  if (!params.oaep.has_value())
    return RvError(CKR_MECHANISM_PARAM_INVALID, "OAEP needs parameters");
  const MechanismParams::Oaep& oaep = *params.oaep;
  scheme.padding = RSA_PKCS1_OAEP_PADDING;
  scheme.oaep_md = oaep.hash_alg == CKM_MD5 ? nullptr : DigestForHashMechanism(oaep.hash_alg);
  scheme.mgf1 = DigestForMgf(oaep.mgf);
  if (scheme.oaep_md == nullptr || scheme.mgf1 == nullptr) {
    return RvError(CKR_MECHANISM_PARAM_INVALID, "unsupported OAEP hash or MGF");
  }
  if (oaep.source != CKZ_DATA_SPECIFIED && (oaep.source != 0 || !oaep.source_data.empty())) {
    return RvError(CKR_MECHANISM_PARAM_INVALID, "OAEP source must be CKZ_DATA_SPECIFIED");
  }
  scheme.label = oaep.source_data;
  return scheme;
}

absl::Status Configure(EVP_PKEY_CTX* ctx, const RsaCipherScheme& scheme) {
  if (EVP_PKEY_CTX_set_rsa_padding(ctx, scheme.padding) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_CTX_set_rsa_padding");
  }
  if (scheme.padding != RSA_PKCS1_OAEP_PADDING) return absl::OkStatus();
  if (EVP_PKEY_CTX_set_rsa_oaep_md(ctx, scheme.oaep_md) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, scheme.mgf1) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "OAEP digests");
  }
  if (!scheme.label.empty()) {
    // OpenSSL takes ownership of the label on success.
    void* label = OPENSSL_memdup(scheme.label.data(), scheme.label.size());
    if (label == nullptr ||
        EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, static_cast<int>(scheme.label.size())) != 1) {
      OPENSSL_free(label);
      return OpenSslError(CKR_FUNCTION_FAILED, "OAEP label");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Encrypt(const EvpPkeyPtr& key, const RsaCipherScheme& scheme,
                                    std::string_view in) {
  size_t k = static_cast<size_t>(EVP_PKEY_get_size(key.get()));
  std::string block(in);
  if (scheme.padding == RSA_NO_PADDING) {
    HSM_ASSIGN_OR_RETURN(block, RawRsaBlock(key.get(), in, CKR_DATA_INVALID));
  } else {
    size_t overhead = scheme.padding == RSA_PKCS1_PADDING
                          ? kPkcs1Overhead
                          : 2 * static_cast<size_t>(EVP_MD_get_size(scheme.oaep_md)) + 2;
    if (in.size() + overhead > k) return RvError(CKR_DATA_LEN_RANGE, "input too long for the key");
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (ctx == nullptr || EVP_PKEY_encrypt_init(ctx.get()) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_encrypt_init");
  }
  HSM_RETURN_IF_ERROR(Configure(ctx.get(), scheme));
  std::string out(k, '\0');
  size_t length = out.size();
  if (EVP_PKEY_encrypt(ctx.get(), MutableBytes(out), &length, Bytes(block), block.size()) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_encrypt");
  }
  out.resize(length);
  return out;
}

absl::StatusOr<std::string> Decrypt(const EvpPkeyPtr& key, const RsaCipherScheme& scheme,
                                    std::string_view in) {
  size_t k = static_cast<size_t>(EVP_PKEY_get_size(key.get()));
  if (in.size() != k)
    return RvError(CKR_ENCRYPTED_DATA_LEN_RANGE, "ciphertext is not modulus-sized");
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (ctx == nullptr || EVP_PKEY_decrypt_init(ctx.get()) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_decrypt_init");
  }
  HSM_RETURN_IF_ERROR(Configure(ctx.get(), scheme));
  std::string out(k, '\0');
  size_t length = out.size();
  if (EVP_PKEY_decrypt(ctx.get(), MutableBytes(out), &length, Bytes(in), in.size()) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    ClearOpenSslErrors();
    return RvError(CKR_ENCRYPTED_DATA_INVALID, "RSA decryption failed");
  }
  out.resize(length);
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CipherOperation>> NewRsaCipher(const MechanismParams& params,
                                                              const EvpPkeyPtr& key, bool encrypt) {
  HSM_RETURN_IF_ERROR(CheckRsaKey(key.get()));
  HSM_ASSIGN_OR_RETURN(RsaCipherScheme scheme, SchemeFor(params));
  if (!encrypt && !HasPrivateKey(key.get())) {
    return RvError(CKR_KEY_TYPE_INCONSISTENT, "decryption needs a private key");
  }
  size_t k = static_cast<size_t>(EVP_PKEY_get_size(key.get()));
  auto run = [key, scheme = std::move(scheme), encrypt](std::string_view in) {
    return encrypt ? Encrypt(key, scheme, in) : Decrypt(key, scheme, in);
  };
  return MakeOneShotCipher(
      std::move(run), [k](size_t) { return k; }, /*multi_part=*/false);
}

}  // namespace hsm::server::crypto
