// Small OpenSSL helpers shared by the mechanism files: owning pointers for
// every OpenSSL object we create, byte-string conversions, digest lookup, and
// turning OpenSSL's thread-local error queue into a status.
#ifndef HSM_SERVER_CRYPTO_OPENSSL_UTIL_H_
#define HSM_SERVER_CRYPTO_OPENSSL_UTIL_H_

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/crypto/pkcs11_extra.h"

namespace hsm::server::crypto {

// unique_ptr with an OpenSSL free function as its deleter.
template <auto kFree>
struct OsslDeleter {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};
template <typename T, auto kFree>
using OsslPtr = std::unique_ptr<T, OsslDeleter<kFree>>;

using EvpPkeyCtxPtr = OsslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using EvpMdCtxPtr = OsslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using EvpCipherCtxPtr = OsslPtr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;
using EvpMacPtr = OsslPtr<EVP_MAC, EVP_MAC_free>;
using EvpMacCtxPtr = OsslPtr<EVP_MAC_CTX, EVP_MAC_CTX_free>;
using EvpKdfPtr = OsslPtr<EVP_KDF, EVP_KDF_free>;
using EvpKdfCtxPtr = OsslPtr<EVP_KDF_CTX, EVP_KDF_CTX_free>;
using UniqueEvpPkey = OsslPtr<EVP_PKEY, EVP_PKEY_free>;
// Private numbers are cleared when freed.
using BignumPtr = OsslPtr<BIGNUM, BN_clear_free>;
using BnCtxPtr = OsslPtr<BN_CTX, BN_CTX_free>;
using EcGroupPtr = OsslPtr<EC_GROUP, EC_GROUP_free>;
using EcPointPtr = OsslPtr<EC_POINT, EC_POINT_clear_free>;
using EcdsaSigPtr = OsslPtr<ECDSA_SIG, ECDSA_SIG_free>;
using ParamBldPtr = OsslPtr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using ParamsPtr = OsslPtr<OSSL_PARAM, OSSL_PARAM_free>;
using Pkcs8InfoPtr = OsslPtr<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>;

inline const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
inline unsigned char* MutableBytes(std::string& s) {
  return reinterpret_cast<unsigned char*>(s.data());
}

// A failed status carrying `rv`; the message names `what` and OpenSSL's
// reasons (never data). Empties the calling thread's OpenSSL error queue.
absl::Status OpenSslError(CK_RV rv, const std::string& what);
// Empties the calling thread's OpenSSL error queue after an expected failure
// (a bad signature, bad padding), so stale errors never leak into later calls.
void ClearOpenSslErrors();

// Big-endian unsigned bytes <-> BIGNUM. `secure` puts the number in OpenSSL's
// secure heap (when there is one) and makes OSSL_PARAM_BLD copy it there too.
BignumPtr BytesToBignum(std::string_view bytes, bool secure);
// Minimal big-endian encoding (empty for zero), or left-padded to `width`.
std::string BignumToBytes(const BIGNUM* bn, size_t width = 0);

// The EVP digest for a hash mechanism (CKM_SHA_1 ... CKM_SHA512, CKM_MD5), or
// nullptr.
const EVP_MD* DigestForHashMechanism(CK_MECHANISM_TYPE hash);
// The EVP digest for an MGF1 type (CKG_MGF1_SHA1 ...), or nullptr.
const EVP_MD* DigestForMgf(CK_RSA_PKCS_MGF_TYPE mgf);

// The smallest big-endian encoding of `bits` in bytes.
inline size_t BitsToBytes(size_t bits) { return (bits + 7) / 8; }

}  // namespace hsm::server::crypto

#endif  // HSM_SERVER_CRYPTO_OPENSSL_UTIL_H_
