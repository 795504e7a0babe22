// The public factories: pick the family for a mechanism, check the kind of
// key (EVP_PKEY or secret bytes), and wrap the family's primitive.
#include "server/crypto/operation.h"

#include "server/crypto/families.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

enum class Family { kNone, kRsaSign, kEcdsa, kEddsa, kMac, kRsaCipher, kBlock, kGcm, kKeyWrap };

Family SignFamily(CK_MECHANISM_TYPE type) {
  switch (type) {
    case CKM_RSA_PKCS:
    case CKM_RSA_X_509:
    case CKM_RSA_PKCS_PSS:
    case CKM_SHA1_RSA_PKCS:
    case CKM_SHA224_RSA_PKCS:
    case CKM_SHA256_RSA_PKCS:
    case CKM_SHA384_RSA_PKCS:
    case CKM_SHA512_RSA_PKCS:
    case CKM_SHA1_RSA_PKCS_PSS:
    case CKM_SHA224_RSA_PKCS_PSS:
    case CKM_SHA256_RSA_PKCS_PSS:
    case CKM_SHA384_RSA_PKCS_PSS:
    case CKM_SHA512_RSA_PKCS_PSS:
      return Family::kRsaSign;
    case CKM_ECDSA:
    case CKM_ECDSA_SHA1:
    case CKM_ECDSA_SHA224:
    case CKM_ECDSA_SHA256:
    case CKM_ECDSA_SHA384:
    case CKM_ECDSA_SHA512:
      return Family::kEcdsa;
    case CKM_EDDSA:
      return Family::kEddsa;
    case CKM_SHA_1_HMAC:
    case CKM_SHA224_HMAC:
    case CKM_SHA256_HMAC:
    case CKM_SHA384_HMAC:
    case CKM_SHA512_HMAC:
    case CKM_AES_CMAC:
      return Family::kMac;
    default:
      return Family::kNone;
  }
}

Family CipherFamily(CK_MECHANISM_TYPE type) {
  switch (type) {
    case CKM_RSA_PKCS:
    case CKM_RSA_X_509:
    case CKM_RSA_PKCS_OAEP:
      return Family::kRsaCipher;
    case CKM_AES_ECB:
    case CKM_AES_CBC:
    case CKM_AES_CBC_PAD:
    case CKM_AES_CTR:
    case CKM_DES3_ECB:
    case CKM_DES3_CBC:
    case CKM_DES3_CBC_PAD:
      return Family::kBlock;
    case CKM_AES_GCM:
      return Family::kGcm;
    case CKM_AES_KEY_WRAP:
    case CKM_AES_KEY_WRAP_PAD:
      return Family::kKeyWrap;
    default:
      return Family::kNone;
  }
}

bool IsAsymmetric(Family family) {
  return family == Family::kRsaSign || family == Family::kEcdsa || family == Family::kEddsa ||
         family == Family::kRsaCipher;
}

// Asymmetric mechanisms take an EVP_PKEY (a private one when `need_private`),
// secret-key mechanisms the key bytes.
absl::Status CheckKeyKind(Family family, const EvpPkeyPtr& key, bool need_private) {
  if (IsAsymmetric(family)) {
    if (key == nullptr)
      return RvError(CKR_KEY_TYPE_INCONSISTENT, "mechanism needs an asymmetric key");
    if (need_private && !HasPrivateKey(key.get())) {
      return RvError(CKR_KEY_TYPE_INCONSISTENT, "mechanism needs a private key");
    }
  } else if (key != nullptr) {
    return RvError(CKR_KEY_TYPE_INCONSISTENT, "mechanism needs a secret key");
  }
  return absl::OkStatus();
}

absl::StatusOr<SignerSetup> NewSigner(Family family, const MechanismParams& params,
                                      const EvpPkeyPtr& key, std::shared_ptr<ContextPool> contexts) {
  switch (family) {
    case Family::kRsaSign:
      return NewRsaSigner(params, key, std::move(contexts));
    case Family::kEcdsa:
      return NewEcdsaSigner(params, key, std::move(contexts));
    default:
      return NewEddsaSigner(params, key);
  }
}

absl::StatusOr<std::unique_ptr<CipherOperation>> NewCipher(const MechanismParams& params,
                                                           const EvpPkeyPtr& key,
                                                           const std::string& secret_key,
                                                           bool encrypt) {
  Family family = CipherFamily(params.type);
  if (family == Family::kNone) {
    return RvError(CKR_MECHANISM_INVALID, "mechanism cannot encrypt or decrypt");
  }
  HSM_RETURN_IF_ERROR(CheckKeyKind(family, key, /*need_private=*/!encrypt));
  switch (family) {
    case Family::kRsaCipher:
      return NewRsaCipher(params, key, encrypt);
    case Family::kBlock:
      return NewBlockCipher(params, secret_key, encrypt);
    case Family::kGcm:
      return NewAesGcm(params, secret_key, encrypt);
    default:
      return NewAesKeyWrap(params, secret_key, encrypt);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<SignOperation>> NewSignOperation(const MechanismParams& params,
                                                                const EvpPkeyPtr& key,
                                                                const std::string& secret_key,
                                                                std::shared_ptr<ContextPool> contexts) {
  Family family = SignFamily(params.type);
  if (family == Family::kNone) return RvError(CKR_MECHANISM_INVALID, "mechanism cannot sign");
  HSM_RETURN_IF_ERROR(CheckKeyKind(family, key, /*need_private=*/true));
  if (family == Family::kMac) return NewMacSign(params, secret_key);
  HSM_ASSIGN_OR_RETURN(SignerSetup setup, NewSigner(family, params, key, std::move(contexts)));
  return MakeSignOperation(std::move(setup));
}

absl::StatusOr<std::unique_ptr<VerifyOperation>> NewVerifyOperation(const MechanismParams& params,
                                                                    const EvpPkeyPtr& key,
                                                                    const std::string& secret_key,
                                                                    std::shared_ptr<ContextPool> contexts) {
  Family family = SignFamily(params.type);
  if (family == Family::kNone) return RvError(CKR_MECHANISM_INVALID, "mechanism cannot verify");
  HSM_RETURN_IF_ERROR(CheckKeyKind(family, key, /*need_private=*/false));
  if (family == Family::kMac) return NewMacVerify(params, secret_key);
  HSM_ASSIGN_OR_RETURN(SignerSetup setup, NewSigner(family, params, key, std::move(contexts)));
  return MakeVerifyOperation(std::move(setup));
}

absl::StatusOr<std::unique_ptr<CipherOperation>> NewEncryptOperation(
    const MechanismParams& params, const EvpPkeyPtr& key, const std::string& secret_key) {
  return NewCipher(params, key, secret_key, /*encrypt=*/true);
}

absl::StatusOr<std::unique_ptr<CipherOperation>> NewDecryptOperation(
    const MechanismParams& params, const EvpPkeyPtr& key, const std::string& secret_key) {
  return NewCipher(params, key, secret_key, /*encrypt=*/false);
}

absl::StatusOr<std::string> SignRecover(const MechanismParams& params,
                                        const EvpPkeyPtr& private_key, std::string_view data) {
  return RsaSignRecover(params, private_key, data);
}

absl::StatusOr<std::string> VerifyRecover(const MechanismParams& params,
                                          const EvpPkeyPtr& public_key,
                                          std::string_view signature) {
  return RsaVerifyRecover(params, public_key, signature);
}

}  // namespace hsm::server::crypto
