// RSA signatures: PKCS #1 v1.5 (raw over a caller's DigestInfo, or
// hash-then-sign), raw X.509, and PSS (over a caller's hash, or
// hash-then-sign); and sign/verify with recovery for the raw mechanisms.
#include <openssl/rsa.h>

#include "server/crypto/context_pool.h"
#include "server/crypto/families.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

// PKCS #1 v1.5 padding takes at least 11 bytes of the block.
constexpr size_t kPkcs1Overhead = 11;

struct RsaScheme {
  int padding = RSA_PKCS1_PADDING;
  // Set for PSS and hash-then-sign: OpenSSL then encodes the DigestInfo (or
  // the PSS block) for this digest, and the input must be such a digest.
  const EVP_MD* md = nullptr;
  const EVP_MD* mgf1 = nullptr;
  int salt_length = 0;
};

class RsaSigner : public Signer {
 public:
  RsaSigner(EvpPkeyPtr key, RsaScheme scheme, std::shared_ptr<ContextPool> contexts)
      : key_(std::move(key)),
        scheme_(scheme),
        k_(static_cast<size_t>(EVP_PKEY_get_size(key_.get()))),
        contexts_(std::move(contexts)),
        sign_scheme_("rsa sign " + SchemeName(scheme)),
        verify_scheme_("rsa verify " + SchemeName(scheme)) {}

  absl::StatusOr<std::string> Sign(std::string_view input) const override {
    HSM_ASSIGN_OR_RETURN(std::string block, Prepare(input));
    std::string signature(k_, '\0');
    size_t length = signature.size();
    HSM_RETURN_IF_ERROR(WithContext(
        contexts_.get(), key_.get(), sign_scheme_,
        [this](EVP_PKEY_CTX* ctx) {
          if (EVP_PKEY_sign_init(ctx) != 1) return OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_sign_init");
          return Configure(ctx);
        },
        [&](EVP_PKEY_CTX* ctx) {
          if (EVP_PKEY_sign(ctx, MutableBytes(signature), &length, Bytes(block), block.size()) != 1) {
            return OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_sign");
          }
          return absl::OkStatus();
        }));
    signature.resize(length);
    return signature;
  }

  absl::Status Verify(std::string_view input, std::string_view signature) const override {
    if (signature.size() != k_) return RvError(CKR_SIGNATURE_LEN_RANGE, "RSA signature length");
    HSM_ASSIGN_OR_RETURN(std::string block, Prepare(input));
    return WithContext(
        contexts_.get(), key_.get(), verify_scheme_,
        [this](EVP_PKEY_CTX* ctx) {
          if (EVP_PKEY_verify_init(ctx) != 1) {
            return OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_verify_init");
          }
          return Configure(ctx);
        },
        [&](EVP_PKEY_CTX* ctx) {
          if (EVP_PKEY_verify(ctx, Bytes(signature), signature.size(), Bytes(block), block.size()) != 1) {
            ClearOpenSslErrors();
            return RvError(CKR_SIGNATURE_INVALID, "RSA signature does not verify");
          }
          return absl::OkStatus();
        });
  }

  size_t SignatureLength() const override { return k_; }

 private:
  // The input checked against the scheme's length rules; X.509 left-pads it.
  absl::StatusOr<std::string> Prepare(std::string_view input) const {
    if (scheme_.md != nullptr) {
      if (input.size() != static_cast<size_t>(EVP_MD_get_size(scheme_.md))) {
        return RvError(CKR_DATA_LEN_RANGE, "input is not a digest of the mechanism's hash");
      }
      return std::string(input);
    }
    if (scheme_.padding == RSA_NO_PADDING) return RawRsaBlock(key_.get(), input, CKR_DATA_INVALID);
    if (input.size() + kPkcs1Overhead > k_) {
      return RvError(CKR_DATA_LEN_RANGE, "input too long for PKCS #1 v1.5");
    }
    return std::string(input);
  }

  absl::Status Configure(EVP_PKEY_CTX* ctx) const {
    if (EVP_PKEY_CTX_set_rsa_padding(ctx, scheme_.padding) != 1 ||
        (scheme_.md != nullptr && EVP_PKEY_CTX_set_signature_md(ctx, scheme_.md) != 1) ||
        (scheme_.padding == RSA_PKCS1_PSS_PADDING &&
         (EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, scheme_.mgf1) != 1 ||
          EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, scheme_.salt_length) != 1))) {
      return OpenSslError(CKR_FUNCTION_FAILED, "RSA signature parameters");
    }
    return absl::OkStatus();
  }

  // Every parameter Configure sets, for the context pool.
  static std::string SchemeName(const RsaScheme& scheme) {
    return std::to_string(scheme.padding) + " " + (scheme.md ? EVP_MD_get0_name(scheme.md) : "-") + " " +
           (scheme.mgf1 ? EVP_MD_get0_name(scheme.mgf1) : "-") + " " + std::to_string(scheme.salt_length);
  }

  EvpPkeyPtr key_;
  RsaScheme scheme_;
  size_t k_;
  std::shared_ptr<ContextPool> contexts_;
  // Names of the contexts this signer uses, in the pool.
  std::string sign_scheme_;
  std::string verify_scheme_;
};

// The hash of CKM_SHAxxx_RSA_PKCS[_PSS], or 0 for the other RSA mechanisms.
CK_MECHANISM_TYPE HashOf(CK_MECHANISM_TYPE mechanism) {
  switch (mechanism) {
    case CKM_SHA1_RSA_PKCS:
    case CKM_SHA1_RSA_PKCS_PSS:
      return CKM_SHA_1;
    case CKM_SHA224_RSA_PKCS:
    case CKM_SHA224_RSA_PKCS_PSS:
      return CKM_SHA224;
    case CKM_SHA256_RSA_PKCS:
    case CKM_SHA256_RSA_PKCS_PSS:
      return CKM_SHA256;
    case CKM_SHA384_RSA_PKCS:
    case CKM_SHA384_RSA_PKCS_PSS:
      return CKM_SHA384;
    case CKM_SHA512_RSA_PKCS:
    case CKM_SHA512_RSA_PKCS_PSS:
      return CKM_SHA512;
    default:
      return 0;
  }
}

bool IsPss(CK_MECHANISM_TYPE mechanism) {
  switch (mechanism) {
    case CKM_RSA_PKCS_PSS:
    case CKM_SHA1_RSA_PKCS_PSS:
    case CKM_SHA224_RSA_PKCS_PSS:
    case CKM_SHA256_RSA_PKCS_PSS:
    case CKM_SHA384_RSA_PKCS_PSS:
    case CKM_SHA512_RSA_PKCS_PSS:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<RsaScheme> PssScheme(const MechanismParams& params, const EVP_PKEY* key) {
  if (!params.pss.has_value()) return RvError(CKR_MECHANISM_PARAM_INVALID, "PSS needs parameters");
  const MechanismParams::Pss& pss = *params.pss;
  CK_MECHANISM_TYPE fixed_hash = HashOf(params.type);
  if (fixed_hash != 0 && pss.hash_alg != fixed_hash) {
    return RvError(CKR_MECHANISM_PARAM_INVALID, "PSS hashAlg differs from the mechanism's hash");
  }
  RsaScheme scheme;
  scheme.padding = RSA_PKCS1_PSS_PADDING;
  scheme.md = pss.hash_alg == CKM_MD5 ? nullptr : DigestForHashMechanism(pss.hash_alg);
  scheme.mgf1 = DigestForMgf(pss.mgf);
  if (scheme.md == nullptr || scheme.mgf1 == nullptr) {
    return RvError(CKR_MECHANISM_PARAM_INVALID, "unsupported PSS hash or MGF");
  }
  // RFC 8017 9.1.1: emLen >= hLen + sLen + 2, emLen = ceil((modBits - 1) / 8).
  size_t em_length = BitsToBytes(static_cast<size_t>(EVP_PKEY_get_bits(key)) - 1);
  size_t hash_length = static_cast<size_t>(EVP_MD_get_size(scheme.md));
  if (pss.salt_len > em_length || hash_length + pss.salt_len + 2 > em_length) {
    return RvError(CKR_MECHANISM_PARAM_INVALID, "PSS salt too long for the key");
  }
  scheme.salt_length = static_cast<int>(pss.salt_len);
  return scheme;
}

}  // namespace

absl::StatusOr<SignerSetup> NewRsaSigner(const MechanismParams& params, const EvpPkeyPtr& key,
                                         std::shared_ptr<ContextPool> contexts) {
  HSM_RETURN_IF_ERROR(CheckRsaKey(key.get()));
  CK_MECHANISM_TYPE hash = HashOf(params.type);
  if (params.type != CKM_RSA_PKCS && params.type != CKM_RSA_X_509 && !IsPss(params.type) &&
      hash == 0) {
    return RvError(CKR_MECHANISM_INVALID, "not an RSA signature mechanism");
  }
  RsaScheme scheme;
  if (IsPss(params.type)) {
    HSM_ASSIGN_OR_RETURN(scheme, PssScheme(params, key.get()));
  } else if (params.type == CKM_RSA_X_509) {
    scheme.padding = RSA_NO_PADDING;
  } else if (hash != 0) {
    scheme.md = DigestForHashMechanism(hash);
  }
  SignerSetup setup;
  setup.signer = std::make_shared<RsaSigner>(key, scheme, std::move(contexts));
  // Raw mechanisms (CKM_RSA_PKCS, CKM_RSA_X_509, CKM_RSA_PKCS_PSS) take the
  // caller's input and are single-part.
  setup.prehash = hash == 0 ? nullptr : DigestForHashMechanism(hash);
  return setup;
}

absl::StatusOr<std::string> RsaSignRecover(const MechanismParams& params, const EvpPkeyPtr& key,
                                           std::string_view data) {
  if (params.type != CKM_RSA_PKCS && params.type != CKM_RSA_X_509) {
    return RvError(CKR_MECHANISM_INVALID,
                   "sign with recovery is for CKM_RSA_PKCS and CKM_RSA_X_509");
  }
  if (!HasPrivateKey(key.get())) return RvError(CKR_KEY_TYPE_INCONSISTENT, "needs a private key");
  HSM_ASSIGN_OR_RETURN(SignerSetup setup, NewRsaSigner(params, key));
  return setup.signer->Sign(data);
}

absl::StatusOr<std::string> RsaVerifyRecover(const MechanismParams& params, const EvpPkeyPtr& key,
                                             std::string_view signature) {
  if (params.type != CKM_RSA_PKCS && params.type != CKM_RSA_X_509) {
    return RvError(CKR_MECHANISM_INVALID,
                   "verify with recovery is for CKM_RSA_PKCS and CKM_RSA_X_509");
  }
  HSM_RETURN_IF_ERROR(CheckRsaKey(key.get()));
  size_t k = static_cast<size_t>(EVP_PKEY_get_size(key.get()));
  if (signature.size() != k) return RvError(CKR_SIGNATURE_LEN_RANGE, "RSA signature length");
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (ctx == nullptr || EVP_PKEY_verify_recover_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(
          ctx.get(), params.type == CKM_RSA_X_509 ? RSA_NO_PADDING : RSA_PKCS1_PADDING) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_verify_recover_init");
  }
  std::string recovered(k, '\0');
  size_t length = recovered.size();
  if (EVP_PKEY_verify_recover(ctx.get(), MutableBytes(recovered), &length, Bytes(signature),
                              signature.size()) != 1) {
    ClearOpenSslErrors();
    return RvError(CKR_SIGNATURE_INVALID, "RSA signature does not recover");
  }
  recovered.resize(length);
  return recovered;
}

}  // namespace hsm::server::crypto
