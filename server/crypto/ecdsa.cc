// ECDSA over P-256/384/521. PKCS #11 signatures are r || s, each left-padded
// to the field size, where OpenSSL speaks DER; this file converts. CKM_ECDSA
// signs the caller's hash (OpenSSL truncates a long one to the order's bit
// length, as FIPS 186 says); CKM_ECDSA_SHAxxx hash first.
#include <openssl/ec.h>

#include "server/crypto/context_pool.h"
#include "server/crypto/families.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

class EcdsaSigner : public Signer {
 public:
  EcdsaSigner(EvpPkeyPtr key, size_t field_bytes, std::shared_ptr<ContextPool> contexts)
      : key_(std::move(key)), field_bytes_(field_bytes), contexts_(std::move(contexts)) {}

  absl::StatusOr<std::string> Sign(std::string_view hash) const override {
    std::string der;
    size_t der_length = 0;
    HSM_RETURN_IF_ERROR(WithContext(
        contexts_.get(), key_.get(), "ecdsa sign",
        [](EVP_PKEY_CTX* ctx) {
          return EVP_PKEY_sign_init(ctx) == 1 ? absl::OkStatus()
                                              : OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_sign_init");
        },
        [&](EVP_PKEY_CTX* ctx) {
          if (EVP_PKEY_sign(ctx, nullptr, &der_length, Bytes(hash), hash.size()) != 1) {
            return OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_sign");
          }
          der.resize(der_length);
          if (EVP_PKEY_sign(ctx, MutableBytes(der), &der_length, Bytes(hash), hash.size()) != 1) {
            return OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_sign");
          }
          return absl::OkStatus();
        }));
    const unsigned char* in = Bytes(der);
    EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(der_length)));
    if (sig == nullptr) return OpenSslError(CKR_FUNCTION_FAILED, "d2i_ECDSA_SIG");
    return BignumToBytes(ECDSA_SIG_get0_r(sig.get()), field_bytes_) +
           BignumToBytes(ECDSA_SIG_get0_s(sig.get()), field_bytes_);
  }

  absl::Status Verify(std::string_view hash, std::string_view signature) const override {
    if (signature.size() != 2 * field_bytes_) {
      return RvError(CKR_SIGNATURE_LEN_RANGE, "ECDSA signature length");
    }
    BignumPtr r = BytesToBignum(signature.substr(0, field_bytes_), false);
    BignumPtr s = BytesToBignum(signature.substr(field_bytes_), false);
    EcdsaSigPtr sig(ECDSA_SIG_new());
    if (r == nullptr || s == nullptr || sig == nullptr ||
        ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
      return OpenSslError(CKR_HOST_MEMORY, "ECDSA_SIG");
    }
    // ECDSA_SIG owns them now.
    r.release();
    s.release();
    unsigned char* der = nullptr;
    int der_length = i2d_ECDSA_SIG(sig.get(), &der);
    if (der_length <= 0) return OpenSslError(CKR_FUNCTION_FAILED, "i2d_ECDSA_SIG");
    std::string der_signature(reinterpret_cast<char*>(der), static_cast<size_t>(der_length));
    OPENSSL_free(der);
    return WithContext(
        contexts_.get(), key_.get(), "ecdsa verify",
        [](EVP_PKEY_CTX* ctx) {
          return EVP_PKEY_verify_init(ctx) == 1
                     ? absl::OkStatus()
                     : OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_verify_init");
        },
        [&](EVP_PKEY_CTX* ctx) {
          // 0 is a wrong signature; < 0 includes r or s of zero or not below
          // the order, which are wrong signatures too.
          if (EVP_PKEY_verify(ctx, Bytes(der_signature), der_signature.size(), Bytes(hash), hash.size()) !=
              1) {
            ClearOpenSslErrors();
            return RvError(CKR_SIGNATURE_INVALID, "ECDSA signature does not verify");
          }
          return absl::OkStatus();
        });
  }

  size_t SignatureLength() const override { return 2 * field_bytes_; }

 private:
  EvpPkeyPtr key_;
  size_t field_bytes_;
  std::shared_ptr<ContextPool> contexts_;
};

// The hash of CKM_ECDSA_SHAxxx; CKM_ECDSA has none; 0 for other mechanisms.
absl::StatusOr<const EVP_MD*> PrehashOf(CK_MECHANISM_TYPE mechanism) {
  switch (mechanism) {
    case CKM_ECDSA:
      return nullptr;
    case CKM_ECDSA_SHA1:
      return EVP_sha1();
    case CKM_ECDSA_SHA224:
      return EVP_sha224();
    case CKM_ECDSA_SHA256:
      return EVP_sha256();
    case CKM_ECDSA_SHA384:
      return EVP_sha384();
    case CKM_ECDSA_SHA512:
      return EVP_sha512();
    default:
      return RvError(CKR_MECHANISM_INVALID, "not an ECDSA mechanism");
  }
}

}  // namespace

absl::StatusOr<SignerSetup> NewEcdsaSigner(const MechanismParams& params, const EvpPkeyPtr& key,
                                           std::shared_ptr<ContextPool> contexts) {
  HSM_ASSIGN_OR_RETURN(const EVP_MD* prehash, PrehashOf(params.type));
  absl::StatusOr<const CurveInfo*> curve = CurveOfKey(key.get());
  if (!curve.ok() || (*curve)->key_type != CKK_EC) {
    return RvError(CKR_KEY_TYPE_INCONSISTENT, "ECDSA needs an EC key on a supported curve");
  }
  SignerSetup setup;
  setup.signer = std::make_shared<EcdsaSigner>(key, (*curve)->field_bytes, std::move(contexts));
  setup.prehash = prehash;
  return setup;
}

}  // namespace hsm::server::crypto
