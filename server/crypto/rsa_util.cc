// Checks shared by the RSA signature and cipher mechanisms.
#include <openssl/core_names.h>

#include "server/crypto/families.h"
#include "server/crypto/key_material.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {

absl::Status CheckRsaKey(const EVP_PKEY* key) {
  if (key == nullptr || !EVP_PKEY_is_a(key, "RSA")) {
    return RvError(CKR_KEY_TYPE_INCONSISTENT, "mechanism needs an RSA key");
  }
  int bits = EVP_PKEY_get_bits(key);
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return RvError(CKR_KEY_SIZE_RANGE, "RSA key size outside the mechanism's range");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RawRsaBlock(const EVP_PKEY* key, std::string_view data,
                                        CK_RV too_large_rv) {
  size_t k = static_cast<size_t>(EVP_PKEY_get_size(key));
  if (data.size() > k) return RvError(CKR_DATA_LEN_RANGE, "input longer than the modulus");
  std::string block(k - data.size(), '\0');
  block.append(data.data(), data.size());
  BIGNUM* raw_n = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &raw_n) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "RSA modulus");
  }
  BignumPtr n(raw_n);
  BignumPtr value = BytesToBignum(block, /*secure=*/false);
  if (value == nullptr) return OpenSslError(CKR_HOST_MEMORY, "BN_bin2bn");
  if (BN_cmp(value.get(), n.get()) >= 0) {
    return RvError(too_large_rv, "input is not below the modulus");
  }
  return block;
}

}  // namespace hsm::server::crypto
