#include "server/crypto/openssl_util.h"

#include <openssl/err.h>

#include "absl/strings/str_cat.h"
#include "server/rv.h"

namespace hsm::server::crypto {

absl::Status OpenSslError(CK_RV rv, const std::string& what) {
  std::string reasons;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    absl::StrAppend(&reasons, reasons.empty() ? "" : "; ", std::string(buffer));
  }
  return RvError(rv, reasons.empty() ? what : absl::StrCat(what, ": ", reasons));
}

void ClearOpenSslErrors() { ERR_clear_error(); }

BignumPtr BytesToBignum(std::string_view bytes, bool secure) {
  BignumPtr bn(secure ? BN_secure_new() : BN_new());
  if (bn == nullptr) return nullptr;
  if (BN_bin2bn(Bytes(bytes), static_cast<int>(bytes.size()), bn.get()) == nullptr) return nullptr;
  return bn;
}

std::string BignumToBytes(const BIGNUM* bn, size_t width) {
  size_t natural = static_cast<size_t>(BN_num_bytes(bn));
  std::string out(width > natural ? width : natural, '\0');
  BN_bn2binpad(bn, MutableBytes(out), static_cast<int>(out.size()));
  return out;
}

const EVP_MD* DigestForHashMechanism(CK_MECHANISM_TYPE hash) {
  switch (hash) {
    case CKM_MD5:
      return EVP_md5();
    case CKM_SHA_1:
      return EVP_sha1();
    case CKM_SHA224:
      return EVP_sha224();
    case CKM_SHA256:
      return EVP_sha256();
    case CKM_SHA384:
      return EVP_sha384();
    case CKM_SHA512:
      return EVP_sha512();
    default:
      return nullptr;
  }
}

const EVP_MD* DigestForMgf(CK_RSA_PKCS_MGF_TYPE mgf) {
  switch (mgf) {
    case CKG_MGF1_SHA1:
      return EVP_sha1();
    case CKG_MGF1_SHA224:
      return EVP_sha224();
    case CKG_MGF1_SHA256:
      return EVP_sha256();
    case CKG_MGF1_SHA384:
      return EVP_sha384();
    case CKG_MGF1_SHA512:
      return EVP_sha512();
    default:
      return nullptr;
  }
}

}  // namespace hsm::server::crypto
