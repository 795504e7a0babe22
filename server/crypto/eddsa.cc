// CKM_EDDSA with Ed25519 keys: pure Ed25519 (RFC 8032), which hashes the
// whole message twice and so cannot stream: single-part only. The
// CK_EDDSA_PARAMS variants (Ed25519ctx, Ed25519ph) are not offered.
#include "server/crypto/families.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

constexpr size_t kEd25519SignatureBytes = 64;

class EddsaSigner : public Signer {
 public:
  explicit EddsaSigner(EvpPkeyPtr key) : key_(std::move(key)) {}

  absl::StatusOr<std::string> Sign(std::string_view message) const override {
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (ctx == nullptr || EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr,
                                                key_.get(), nullptr) != 1) {
      return OpenSslError(CKR_FUNCTION_FAILED, "EVP_DigestSignInit_ex");
    }
    std::string signature(kEd25519SignatureBytes, '\0');
    size_t length = signature.size();
    if (EVP_DigestSign(ctx.get(), MutableBytes(signature), &length, Bytes(message),
                       message.size()) != 1 ||
        length != kEd25519SignatureBytes) {
      return OpenSslError(CKR_FUNCTION_FAILED, "EVP_DigestSign");
    }
    return signature;
  }

  absl::Status Verify(std::string_view message, std::string_view signature) const override {
    if (signature.size() != kEd25519SignatureBytes) {
      return RvError(CKR_SIGNATURE_LEN_RANGE, "Ed25519 signature length");
    }
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (ctx == nullptr || EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr,
                                                  key_.get(), nullptr) != 1) {
      return OpenSslError(CKR_FUNCTION_FAILED, "EVP_DigestVerifyInit_ex");
    }
    if (EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(message),
                         message.size()) != 1) {
      ClearOpenSslErrors();
      return RvError(CKR_SIGNATURE_INVALID, "Ed25519 signature does not verify");
    }
    return absl::OkStatus();
  }

  size_t SignatureLength() const override { return kEd25519SignatureBytes; }

 private:
  EvpPkeyPtr key_;
};

}  // namespace

absl::StatusOr<SignerSetup> NewEddsaSigner(const MechanismParams& params, const EvpPkeyPtr& key) {
  if (params.type != CKM_EDDSA) return RvError(CKR_MECHANISM_INVALID, "not CKM_EDDSA");
  if (key == nullptr || !EVP_PKEY_is_a(key.get(), "ED25519")) {
    return RvError(CKR_KEY_TYPE_INCONSISTENT, "CKM_EDDSA needs an Ed25519 key");
  }
  SignerSetup setup;
  setup.signer = std::make_shared<EddsaSigner>(key);
  return setup;
}

}  // namespace hsm::server::crypto
