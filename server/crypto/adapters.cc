// Operation objects around family primitives: hash-then-sign streaming for
// signatures, and buffering for ciphers that need their whole input.
#include "server/crypto/families.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

// Hashes the message for multi-part mechanisms; hands single-part ones their
// input unchanged.
class Prehasher {
 public:
  explicit Prehasher(const EVP_MD* md) : md_(md) {}

  absl::Status Update(std::string_view data) {
    if (md_ == nullptr) return SinglePartOnly();
    if (ctx_ == nullptr) {
      ctx_.reset(EVP_MD_CTX_new());
      if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_.get(), md_, nullptr) != 1) {
        ctx_.reset();
        return OpenSslError(CKR_FUNCTION_FAILED, "EVP_DigestInit_ex");
      }
    }
    if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) {
      return OpenSslError(CKR_FUNCTION_FAILED, "EVP_DigestUpdate");
    }
    return absl::OkStatus();
  }

  // The digest of everything passed to Update.
  absl::StatusOr<std::string> Final() {
    if (md_ == nullptr) return SinglePartOnly();
    HSM_RETURN_IF_ERROR(Update(""));
    std::string digest(EVP_MD_get_size(md_), '\0');
    if (EVP_DigestFinal_ex(ctx_.get(), MutableBytes(digest), nullptr) != 1) {
      return OpenSslError(CKR_FUNCTION_FAILED, "EVP_DigestFinal_ex");
    }
    return digest;
  }

  // What the signer takes for the single-part `data`.
  absl::StatusOr<std::string> Once(std::string_view data) const {
    if (md_ == nullptr) return std::string(data);
    std::string digest(EVP_MD_get_size(md_), '\0');
    if (EVP_Digest(data.data(), data.size(), MutableBytes(digest), nullptr, md_, nullptr) != 1) {
      return OpenSslError(CKR_FUNCTION_FAILED, "EVP_Digest");
    }
    return digest;
  }

 private:
  const EVP_MD* md_;
  EvpMdCtxPtr ctx_;
};

class SignAdapter : public SignOperation {
 public:
  explicit SignAdapter(SignerSetup setup)
      : signer_(std::move(setup.signer)), hash_(setup.prehash) {}

  absl::Status Update(std::string_view data) override { return hash_.Update(data); }
  absl::StatusOr<std::string> Final() override {
    HSM_ASSIGN_OR_RETURN(std::string digest, hash_.Final());
    return signer_->Sign(digest);
  }
  absl::StatusOr<std::string> SignOnce(std::string_view data) override {
    HSM_ASSIGN_OR_RETURN(std::string input, hash_.Once(data));
    return signer_->Sign(input);
  }
  size_t SignatureLength() const override { return signer_->SignatureLength(); }

 private:
  std::shared_ptr<const Signer> signer_;
  Prehasher hash_;
};

class VerifyAdapter : public VerifyOperation {
 public:
  explicit VerifyAdapter(SignerSetup setup)
      : signer_(std::move(setup.signer)), hash_(setup.prehash) {}

  absl::Status Update(std::string_view data) override { return hash_.Update(data); }
  absl::Status Final(std::string_view signature) override {
    HSM_ASSIGN_OR_RETURN(std::string digest, hash_.Final());
    return signer_->Verify(digest, signature);
  }
  absl::Status VerifyOnce(std::string_view data, std::string_view signature) override {
    HSM_ASSIGN_OR_RETURN(std::string input, hash_.Once(data));
    return signer_->Verify(input, signature);
  }
  size_t SignatureLength() const override { return signer_->SignatureLength(); }

 private:
  std::shared_ptr<const Signer> signer_;
  Prehasher hash_;
};

class OneShotCipher : public CipherOperation {
 public:
  OneShotCipher(std::function<absl::StatusOr<std::string>(std::string_view)> run,
                std::function<size_t(size_t)> max_output, bool multi_part)
      : run_(std::move(run)), max_output_(std::move(max_output)), multi_part_(multi_part) {}
  ~OneShotCipher() override { OPENSSL_cleanse(buffer_.data(), buffer_.size()); }

  absl::StatusOr<std::string> Update(std::string_view in) override {
    if (!multi_part_) return SinglePartOnly();
    buffer_.append(in.data(), in.size());
    return std::string();
  }
  absl::StatusOr<std::string> Final() override {
    if (!multi_part_) return SinglePartOnly();
    return run_(buffer_);
  }
  absl::StatusOr<std::string> Once(std::string_view in) override { return run_(in); }
  size_t MaxOutputLength(size_t input_len) const override {
    return max_output_(buffer_.size() + input_len);
  }
  size_t BufferedBytes() const override { return buffer_.size(); }

 private:
  std::function<absl::StatusOr<std::string>(std::string_view)> run_;
  std::function<size_t(size_t)> max_output_;
  bool multi_part_;
  std::string buffer_;
};

}  // namespace

absl::Status SinglePartOnly() {
  return RvError(CKR_FUNCTION_NOT_SUPPORTED, "mechanism is single-part only");
}

std::unique_ptr<SignOperation> MakeSignOperation(SignerSetup setup) {
  return std::make_unique<SignAdapter>(std::move(setup));
}

std::unique_ptr<VerifyOperation> MakeVerifyOperation(SignerSetup setup) {
  return std::make_unique<VerifyAdapter>(std::move(setup));
}

std::unique_ptr<CipherOperation> MakeOneShotCipher(
    std::function<absl::StatusOr<std::string>(std::string_view)> run,
    std::function<size_t(size_t)> max_output, bool multi_part) {
  return std::make_unique<OneShotCipher>(std::move(run), std::move(max_output), multi_part);
}

}  // namespace hsm::server::crypto
