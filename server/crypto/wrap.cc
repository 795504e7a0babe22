// C_WrapKey / C_UnwrapKey on top of the cipher operations: which mechanisms
// may wrap, the zero padding ECB and CBC need, and the wrap-specific error
// codes PKCS #11 uses instead of the cipher ones.
#include <openssl/crypto.h>

#include <initializer_list>
#include <utility>

#include "server/crypto/families.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

bool CanWrap(CK_MECHANISM_TYPE type) {
  switch (type) {
    case CKM_AES_KEY_WRAP:
    case CKM_AES_KEY_WRAP_PAD:
    case CKM_AES_ECB:
    case CKM_AES_CBC:
    case CKM_AES_CBC_PAD:
    case CKM_DES3_ECB:
    case CKM_DES3_CBC:
    case CKM_DES3_CBC_PAD:
    case CKM_RSA_PKCS:
    case CKM_RSA_X_509:
    case CKM_RSA_PKCS_OAEP:
      return true;
    default:
      return false;
  }
}

// Block modes without padding: the key is zero-padded to whole blocks.
bool PadsWithZeros(CK_MECHANISM_TYPE type) {
  return type == CKM_AES_ECB || type == CKM_AES_CBC || type == CKM_DES3_ECB || type == CKM_DES3_CBC;
}

// `status` with its CK_RV replaced per `map`, when it carries one of them.
absl::Status Remap(absl::Status status, std::initializer_list<std::pair<CK_RV, CK_RV>> map) {
  for (const auto& [from, to] : map) {
    if (CarriesRv(status, from)) return RvError(to, std::string(status.message()));
  }
  return status;
}

absl::StatusOr<std::string> Remap(absl::StatusOr<std::string> result,
                                  std::initializer_list<std::pair<CK_RV, CK_RV>> map) {
  if (result.ok()) return result;
  return Remap(result.status(), map);
}

}  // namespace

absl::StatusOr<std::string> WrapKey(const MechanismParams& params, const EvpPkeyPtr& wrapping_key,
                                    const std::string& wrapping_secret,
                                    const std::string& key_bytes) {
  if (!CanWrap(params.type)) return RvError(CKR_MECHANISM_INVALID, "mechanism cannot wrap");
  absl::StatusOr<std::unique_ptr<CipherOperation>> op =
      NewEncryptOperation(params, wrapping_key, wrapping_secret);
  if (!op.ok()) {
    return Remap(op.status(), {{CKR_KEY_TYPE_INCONSISTENT, CKR_WRAPPING_KEY_TYPE_INCONSISTENT},
                               {CKR_KEY_SIZE_RANGE, CKR_WRAPPING_KEY_SIZE_RANGE}});
  }
  std::string input = key_bytes;
  if (PadsWithZeros(params.type)) {
    size_t block = BlockSizeOf(params.type);
    input.resize((input.size() + block - 1) / block * block, '\0');
  }
  absl::StatusOr<std::string> wrapped = (*op)->Once(input);
  OPENSSL_cleanse(input.data(), input.size());
  return Remap(std::move(wrapped),
               {{CKR_DATA_LEN_RANGE, CKR_KEY_SIZE_RANGE}, {CKR_DATA_INVALID, CKR_KEY_SIZE_RANGE}});
}

absl::StatusOr<std::string> UnwrapKey(const MechanismParams& params,
                                      const EvpPkeyPtr& unwrapping_key,
                                      const std::string& unwrapping_secret,
                                      const std::string& wrapped, CK_ULONG value_length) {
  if (!CanWrap(params.type)) return RvError(CKR_MECHANISM_INVALID, "mechanism cannot unwrap");
  absl::StatusOr<std::unique_ptr<CipherOperation>> op =
      NewDecryptOperation(params, unwrapping_key, unwrapping_secret);
  if (!op.ok()) {
    return Remap(op.status(), {{CKR_KEY_TYPE_INCONSISTENT, CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT},
                               {CKR_KEY_SIZE_RANGE, CKR_UNWRAPPING_KEY_SIZE_RANGE}});
  }
  HSM_ASSIGN_OR_RETURN(
      std::string key,
      Remap((*op)->Once(wrapped), {{CKR_ENCRYPTED_DATA_LEN_RANGE, CKR_WRAPPED_KEY_LEN_RANGE},
                                   {CKR_ENCRYPTED_DATA_INVALID, CKR_WRAPPED_KEY_INVALID}}));
  bool ambiguous = PadsWithZeros(params.type) || params.type == CKM_RSA_X_509;
  if (value_length == 0 || value_length == key.size()) return key;
  absl::Status mismatch =
      RvError(CKR_TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN does not fit the unwrapped key");
  if (!ambiguous || value_length > key.size()) {
    OPENSSL_cleanse(key.data(), key.size());
    return mismatch;
  }
  // Block modes padded the end, raw RSA the start; the padding must be zeros,
  // and less than a block for the block modes.
  size_t extra = key.size() - value_length;
  size_t start = params.type == CKM_RSA_X_509 ? extra : 0;
  std::string padding =
      params.type == CKM_RSA_X_509 ? key.substr(0, extra) : key.substr(value_length);
  bool zeros = padding.find_first_not_of('\0') == std::string::npos;
  bool short_enough = params.type == CKM_RSA_X_509 || extra < BlockSizeOf(params.type);
  std::string trimmed = key.substr(start, value_length);
  OPENSSL_cleanse(key.data(), key.size());
  if (!zeros || !short_enough) {
    OPENSSL_cleanse(trimmed.data(), trimmed.size());
    return mismatch;
  }
  return trimmed;
}

}  // namespace hsm::server::crypto
