// MACs through EVP_MAC: HMAC with SHA-1/224/256/384/512 (full-length output)
// and AES-CMAC (16 bytes). Verification recomputes and compares in constant
// time.
#include <openssl/core_names.h>
#include <openssl/crypto.h>

#include "server/crypto/families.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

// The HMAC key range CK_MECHANISM_INFO reports, in bytes.
constexpr size_t kMinHmacKey = 1;
constexpr size_t kMaxHmacKey = 512;

class MacState {
 public:
  MacState(EvpMacCtxPtr ctx, size_t length) : ctx_(std::move(ctx)), length_(length) {}

  absl::Status Update(std::string_view data) {
    if (EVP_MAC_update(ctx_.get(), Bytes(data), data.size()) != 1) {
      return OpenSslError(CKR_FUNCTION_FAILED, "EVP_MAC_update");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Final() {
    std::string mac(length_, '\0');
    size_t length = 0;
    if (EVP_MAC_final(ctx_.get(), MutableBytes(mac), &length, mac.size()) != 1 ||
        length != length_) {
      return OpenSslError(CKR_FUNCTION_FAILED, "EVP_MAC_final");
    }
    return mac;
  }

  absl::Status Check(std::string_view signature) {
    if (signature.size() != length_) return RvError(CKR_SIGNATURE_LEN_RANGE, "MAC length");
    HSM_ASSIGN_OR_RETURN(std::string mac, Final());
    if (CRYPTO_memcmp(mac.data(), signature.data(), length_) != 0) {
      return RvError(CKR_SIGNATURE_INVALID, "MAC does not match");
    }
    return absl::OkStatus();
  }

  size_t length() const { return length_; }

 private:
  EvpMacCtxPtr ctx_;
  size_t length_;
};

class MacSign : public SignOperation {
 public:
  explicit MacSign(MacState state) : state_(std::move(state)) {}
  absl::Status Update(std::string_view data) override { return state_.Update(data); }
  absl::StatusOr<std::string> Final() override { return state_.Final(); }
  absl::StatusOr<std::string> SignOnce(std::string_view data) override {
    HSM_RETURN_IF_ERROR(state_.Update(data));
    return state_.Final();
  }
  size_t SignatureLength() const override { return state_.length(); }

 private:
  MacState state_;
};

class MacVerify : public VerifyOperation {
 public:
  explicit MacVerify(MacState state) : state_(std::move(state)) {}
  absl::Status Update(std::string_view data) override { return state_.Update(data); }
  absl::Status Final(std::string_view signature) override { return state_.Check(signature); }
  absl::Status VerifyOnce(std::string_view data, std::string_view signature) override {
    HSM_RETURN_IF_ERROR(state_.Update(data));
    return state_.Check(signature);
  }
  size_t SignatureLength() const override { return state_.length(); }

 private:
  MacState state_;
};

const char* HmacDigestName(CK_MECHANISM_TYPE mechanism) {
  switch (mechanism) {
    case CKM_SHA_1_HMAC:
      return "SHA1";
    case CKM_SHA224_HMAC:
      return "SHA224";
    case CKM_SHA256_HMAC:
      return "SHA256";
    case CKM_SHA384_HMAC:
      return "SHA384";
    case CKM_SHA512_HMAC:
      return "SHA512";
    default:
      return nullptr;
  }
}

absl::StatusOr<MacState> NewMacState(const MechanismParams& params, const std::string& key) {
  const char* algorithm;
  OSSL_PARAM ossl_params[2];
  if (const char* digest = HmacDigestName(params.type)) {
    if (key.size() < kMinHmacKey || key.size() > kMaxHmacKey) {
      return RvError(CKR_KEY_SIZE_RANGE, "HMAC key length out of range");
    }
    algorithm = OSSL_MAC_NAME_HMAC;
    ossl_params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0);
  } else if (params.type == CKM_AES_CMAC) {
    HSM_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, AesCipher(key.size(), "CBC"));
    algorithm = OSSL_MAC_NAME_CMAC;
    ossl_params[0] = OSSL_PARAM_construct_utf8_string(
        OSSL_MAC_PARAM_CIPHER, const_cast<char*>(EVP_CIPHER_get0_name(cipher)), 0);
  } else {
    return RvError(CKR_MECHANISM_INVALID, "not a MAC mechanism");
  }
  ossl_params[1] = OSSL_PARAM_construct_end();
  EvpMacPtr mac(EVP_MAC_fetch(nullptr, algorithm, nullptr));
  EvpMacCtxPtr ctx(mac == nullptr ? nullptr : EVP_MAC_CTX_new(mac.get()));
  if (ctx == nullptr || EVP_MAC_init(ctx.get(), Bytes(key), key.size(), ossl_params) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EVP_MAC_init");
  }
  size_t length = EVP_MAC_CTX_get_mac_size(ctx.get());
  return MacState(std::move(ctx), length);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SignOperation>> NewMacSign(const MechanismParams& params,
                                                          const std::string& key) {
  HSM_ASSIGN_OR_RETURN(MacState state, NewMacState(params, key));
  return std::unique_ptr<SignOperation>(std::make_unique<MacSign>(std::move(state)));
}

absl::StatusOr<std::unique_ptr<VerifyOperation>> NewMacVerify(const MechanismParams& params,
                                                              const std::string& key) {
  HSM_ASSIGN_OR_RETURN(MacState state, NewMacState(params, key));
  return std::unique_ptr<VerifyOperation>(std::make_unique<MacVerify>(std::move(state)));
}

}  // namespace hsm::server::crypto
