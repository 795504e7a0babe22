// AES key wrap: RFC 3394 (CKM_AES_KEY_WRAP) and RFC 5649 with padding
// (CKM_AES_KEY_WRAP_PAD), as single-part ciphers. An IV may replace the
// standard one (8 bytes for RFC 3394, the 4-byte prefix for RFC 5649).
#include <climits>

#include "server/crypto/families.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

constexpr size_t kSemiblock = 8;

class KeyWrapOperation : public CipherOperation {
 public:
  KeyWrapOperation(EvpCipherCtxPtr ctx, bool encrypt, bool pad)
      : ctx_(std::move(ctx)), encrypt_(encrypt), pad_(pad) {}

  absl::StatusOr<std::string> Update(std::string_view) override { return SinglePartOnly(); }
  absl::StatusOr<std::string> Final() override { return SinglePartOnly(); }

  absl::StatusOr<std::string> Once(std::string_view in) override {
    HSM_RETURN_IF_ERROR(CheckLength(in.size()));
    std::string out(in.size() + 2 * kSemiblock, '\0');
    int length = 0;
    int final_length = 0;
    if (EVP_CipherUpdate(ctx_.get(), MutableBytes(out), &length, Bytes(in),
                         static_cast<int>(in.size())) != 1 ||
        EVP_CipherFinal_ex(ctx_.get(), MutableBytes(out) + length, &final_length) != 1) {
      if (encrypt_) return OpenSslError(CKR_FUNCTION_FAILED, "AES key wrap");
      OPENSSL_cleanse(out.data(), out.size());
      ClearOpenSslErrors();
      return RvError(CKR_ENCRYPTED_DATA_INVALID, "AES key unwrap integrity check failed");
    }
    out.resize(static_cast<size_t>(length + final_length));
    return out;
  }

  size_t MaxOutputLength(size_t input_len) const override {
    if (!encrypt_) return input_len > kSemiblock ? input_len - kSemiblock : 0;
    size_t padded = pad_ ? (input_len + kSemiblock - 1) / kSemiblock * kSemiblock : input_len;
    return padded + kSemiblock;
  }

 private:
  absl::Status CheckLength(size_t length) const {
    if (length > INT_MAX - 2 * kSemiblock) {
      return RvError(encrypt_ ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE,
                     "input too long");
    }
    if (encrypt_) {
      // RFC 3394 wraps two or more whole semiblocks; RFC 5649 anything non-empty.
      bool ok = pad_ ? length > 0 : length >= 2 * kSemiblock && length % kSemiblock == 0;
      return ok ? absl::OkStatus() : RvError(CKR_DATA_LEN_RANGE, "key wrap input length");
    }
    bool ok = length % kSemiblock == 0 && length >= (pad_ ? 2 : 3) * kSemiblock;
    return ok ? absl::OkStatus() : RvError(CKR_ENCRYPTED_DATA_LEN_RANGE, "wrapped data length");
  }

  EvpCipherCtxPtr ctx_;
  bool encrypt_;
  bool pad_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CipherOperation>> NewAesKeyWrap(const MechanismParams& params,
                                                               const std::string& key,
                                                               bool encrypt) {
  bool pad = params.type == CKM_AES_KEY_WRAP_PAD;
  if (!pad && params.type != CKM_AES_KEY_WRAP) {
    return RvError(CKR_MECHANISM_INVALID, "not an AES key wrap mechanism");
  }
  HSM_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, AesCipher(key.size(), pad ? "WRAP-PAD" : "WRAP"));
  if (!params.iv.empty() && params.iv.size() != (pad ? 4u : kSemiblock)) {
    return RvError(CKR_MECHANISM_PARAM_INVALID, "AES key wrap IV length");
  }
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return OpenSslError(CKR_HOST_MEMORY, "EVP_CIPHER_CTX_new");
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  if (EVP_CipherInit_ex(ctx.get(), cipher, nullptr, Bytes(key),
                        params.iv.empty() ? nullptr : Bytes(params.iv), encrypt ? 1 : 0) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "AES key wrap setup");
  }
  return std::unique_ptr<CipherOperation>(
      std::make_unique<KeyWrapOperation>(std::move(ctx), encrypt, pad));
}

}  // namespace hsm::server::crypto
