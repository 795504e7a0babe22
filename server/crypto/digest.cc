// Message digests: CKM_MD5, CKM_SHA_1, CKM_SHA224 ... CKM_SHA512.
#include "server/crypto/families.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

class EvpDigestOperation : public DigestOperation {
 public:
  EvpDigestOperation(EvpMdCtxPtr ctx, size_t length) : ctx_(std::move(ctx)), length_(length) {}

  absl::Status Update(std::string_view data) override {
    if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) {
      return OpenSslError(CKR_FUNCTION_FAILED, "EVP_DigestUpdate");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Final() override {
    std::string digest(length_, '\0');
    if (EVP_DigestFinal_ex(ctx_.get(), MutableBytes(digest), nullptr) != 1) {
      return OpenSslError(CKR_FUNCTION_FAILED, "EVP_DigestFinal_ex");
    }
    return digest;
  }

  absl::StatusOr<std::string> Once(std::string_view data) override {
    HSM_RETURN_IF_ERROR(Update(data));
    return Final();
  }

  size_t DigestLength() const override { return length_; }

 private:
  EvpMdCtxPtr ctx_;
  size_t length_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DigestOperation>> NewDigestOperation(const MechanismParams& params) {
  const EVP_MD* md = DigestForHashMechanism(params.type);
  if (md == nullptr) return RvError(CKR_MECHANISM_INVALID, "not a digest mechanism");
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EVP_DigestInit_ex");
  }
  return std::unique_ptr<DigestOperation>(std::make_unique<EvpDigestOperation>(
      std::move(ctx), static_cast<size_t>(EVP_MD_get_size(md))));
}

}  // namespace hsm::server::crypto
