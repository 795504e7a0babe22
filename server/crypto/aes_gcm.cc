// AES-GCM. Encryption streams and returns the tag from Final. Decryption
// buffers the ciphertext and releases plaintext only from Final, once the
// tag has verified (PKCS #11 2.40 requires exactly this; no unauthenticated
// plaintext leaves the server).
#include <openssl/crypto.h>

#include <climits>

#include "server/crypto/families.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

// The IV length OpenSSL's GCM accepts.
constexpr size_t kMaxIvBytes = 128;

bool ValidTagBits(CK_ULONG bits) {
  // SP 800-38D 5.2.1.2: 128, 120, 112, 104, 96, and 64 or 32 for special uses.
  return bits == 32 || bits == 64 || (bits >= 96 && bits <= 128 && bits % 8 == 0);
}

class GcmOperation : public CipherOperation {
 public:
  GcmOperation(EvpCipherCtxPtr ctx, bool encrypt, size_t tag_bytes)
      : ctx_(std::move(ctx)), encrypt_(encrypt), tag_bytes_(tag_bytes) {}
  ~GcmOperation() override { OPENSSL_cleanse(buffer_.data(), buffer_.size()); }

  absl::StatusOr<std::string> Update(std::string_view in) override {
    if (!encrypt_) {
      // GCM gives out no plaintext before its tag verifies, so the ciphertext
      // is kept until Final, and OpenSSL takes at most INT_MAX bytes in one
      // call. Refused as it grows, not only at Final: otherwise a client
      // could make hsmd hold any amount before learning it was too much.
      if (in.size() > INT_MAX - buffer_.size()) {
        return RvError(CKR_ENCRYPTED_DATA_LEN_RANGE, "GCM ciphertext too long");
      }
      buffer_.append(in.data(), in.size());
      return std::string();
    }
    if (in.size() > INT_MAX) return RvError(CKR_DATA_LEN_RANGE, "input too long");
    std::string out(in.size(), '\0');
    int length = 0;
    if (EVP_EncryptUpdate(ctx_.get(), MutableBytes(out), &length, Bytes(in),
                          static_cast<int>(in.size())) != 1) {
      return OpenSslError(CKR_FUNCTION_FAILED, "EVP_EncryptUpdate");
    }
    out.resize(static_cast<size_t>(length));
    return out;
  }

  absl::StatusOr<std::string> Final() override {
    if (!encrypt_) return Decrypt();
    unsigned char unused[16];
    int length = 0;
    std::string tag(tag_bytes_, '\0');
    if (EVP_EncryptFinal_ex(ctx_.get(), unused, &length) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_bytes_),
                            tag.data()) != 1) {
      return OpenSslError(CKR_FUNCTION_FAILED, "GCM tag");
    }
    return tag;
  }

  absl::StatusOr<std::string> Once(std::string_view in) override {
    HSM_ASSIGN_OR_RETURN(std::string out, Update(in));
    HSM_ASSIGN_OR_RETURN(std::string last, Final());
    return out + last;
  }

  size_t MaxOutputLength(size_t input_len) const override {
    if (encrypt_) return input_len + tag_bytes_;
    size_t total = buffer_.size() + input_len;
    return total > tag_bytes_ ? total - tag_bytes_ : 0;
  }

  size_t BufferedBytes() const override { return buffer_.size(); }

 private:
  absl::StatusOr<std::string> Decrypt() {
    if (buffer_.size() < tag_bytes_) {
      return RvError(CKR_ENCRYPTED_DATA_LEN_RANGE, "GCM ciphertext shorter than its tag");
    }
    if (buffer_.size() > INT_MAX) return RvError(CKR_ENCRYPTED_DATA_LEN_RANGE, "input too long");
    size_t text_length = buffer_.size() - tag_bytes_;
    std::string tag = buffer_.substr(text_length);
    std::string out(text_length, '\0');
    int length = 0;
    unsigned char unused[16];
    if (EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_bytes_),
                            tag.data()) != 1 ||
        EVP_DecryptUpdate(ctx_.get(), MutableBytes(out), &length, Bytes(buffer_),
                          static_cast<int>(text_length)) != 1) {
      return OpenSslError(CKR_FUNCTION_FAILED, "EVP_DecryptUpdate");
    }
    if (EVP_DecryptFinal_ex(ctx_.get(), unused, &length) != 1) {
      OPENSSL_cleanse(out.data(), out.size());
      ClearOpenSslErrors();
      return RvError(CKR_ENCRYPTED_DATA_INVALID, "GCM tag does not verify");
    }
    return out;
  }

  EvpCipherCtxPtr ctx_;
  bool encrypt_;
  size_t tag_bytes_;
  std::string buffer_;  // ciphertext and tag, when decrypting
};

}  // namespace

absl::StatusOr<std::unique_ptr<CipherOperation>> NewAesGcm(const MechanismParams& params,
                                                           const std::string& key, bool encrypt) {
  if (params.type != CKM_AES_GCM) return RvError(CKR_MECHANISM_INVALID, "not CKM_AES_GCM");
  HSM_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, AesCipher(key.size(), "GCM"));
  if (!params.gcm.has_value()) return RvError(CKR_MECHANISM_PARAM_INVALID, "GCM needs parameters");
  const MechanismParams::Gcm& gcm = *params.gcm;
  if (gcm.iv.empty() || gcm.iv.size() > kMaxIvBytes || !ValidTagBits(gcm.tag_bits) ||
      gcm.aad.size() > INT_MAX) {
    return RvError(CKR_MECHANISM_PARAM_INVALID, "GCM IV or tag length");
  }
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  int enc = encrypt ? 1 : 0;
  if (ctx == nullptr || EVP_CipherInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(gcm.iv.size()),
                          nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, Bytes(key), Bytes(gcm.iv), enc) != 1 ||
      (!gcm.aad.empty() && EVP_CipherUpdate(ctx.get(), nullptr, &length, Bytes(gcm.aad),
                                            static_cast<int>(gcm.aad.size())) != 1)) {
    return OpenSslError(CKR_FUNCTION_FAILED, "GCM setup");
  }
  return std::unique_ptr<CipherOperation>(
      std::make_unique<GcmOperation>(std::move(ctx), encrypt, gcm.tag_bits / 8));
}

}  // namespace hsm::server::crypto
