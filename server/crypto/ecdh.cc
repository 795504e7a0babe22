// CKM_ECDH1_DERIVE: the ECDH shared secret Z with a peer point, then CKD_NULL
// (Z itself) or the ANSI X9.63 KDF (CKD_SHAxxx_KDF, with the shared data as
// SharedInfo).
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>

#include "server/crypto/families.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

// Far more than any key needs; keeps a client from asking for gigabytes.
constexpr CK_ULONG kMaxDerivedBytes = 1024;

// The digest of a CKD_SHAxxx_KDF; nullptr for CKD_NULL.
absl::StatusOr<const char*> KdfDigest(CK_EC_KDF_TYPE kdf) {
  switch (kdf) {
    case CKD_NULL:
      return nullptr;
    case CKD_SHA1_KDF:
      return "SHA1";
    case CKD_SHA224_KDF:
      return "SHA224";
    case CKD_SHA256_KDF:
      return "SHA256";
    case CKD_SHA384_KDF:
      return "SHA384";
    case CKD_SHA512_KDF:
      return "SHA512";
    default:
      return RvError(CKR_MECHANISM_PARAM_INVALID, "unsupported ECDH KDF");
  }
}

absl::StatusOr<std::string> SharedSecret(const EvpPkeyPtr& private_key, const EvpPkeyPtr& peer) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, private_key.get(), nullptr));
  size_t length = 0;
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer_ex(ctx.get(), peer.get(), /*validate_peer=*/1) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &length) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "ECDH setup");
  }
  std::string z(length, '\0');
  if (EVP_PKEY_derive(ctx.get(), MutableBytes(z), &length) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EVP_PKEY_derive");
  }
  z.resize(length);
  return z;
}

absl::StatusOr<std::string> X963Kdf(const char* digest, const std::string& z,
                                    const std::string& shared_info, size_t length) {
  EvpKdfPtr kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_X963KDF, nullptr));
  EvpKdfCtxPtr ctx(kdf == nullptr ? nullptr : EVP_KDF_CTX_new(kdf.get()));
  if (ctx == nullptr) return OpenSslError(CKR_FUNCTION_FAILED, "X963KDF");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(z.data()), z.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(shared_info.data()),
                                        shared_info.size()),
      OSSL_PARAM_construct_end(),
  };
  std::string out(length, '\0');
  if (EVP_KDF_derive(ctx.get(), MutableBytes(out), out.size(), params) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EVP_KDF_derive");
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> DeriveEcdh(const MechanismParams& params, const EvpPkeyPtr& private_key,
                                       CK_ULONG key_length) {
  if (params.type != CKM_ECDH1_DERIVE)
    return RvError(CKR_MECHANISM_INVALID, "not CKM_ECDH1_DERIVE");
  if (!params.ecdh.has_value())
    return RvError(CKR_MECHANISM_PARAM_INVALID, "ECDH needs parameters");
  const MechanismParams::Ecdh& ecdh = *params.ecdh;
  absl::StatusOr<const CurveInfo*> curve = CurveOfKey(private_key.get());
  if (!curve.ok() || (*curve)->key_type != CKK_EC || !HasPrivateKey(private_key.get())) {
    return RvError(CKR_KEY_TYPE_INCONSISTENT, "ECDH needs an EC private key");
  }
  HSM_ASSIGN_OR_RETURN(const char* digest, KdfDigest(ecdh.kdf));
  if (digest == nullptr && !ecdh.shared_data.empty()) {
    return RvError(CKR_MECHANISM_PARAM_INVALID, "CKD_NULL takes no shared data");
  }
  if (key_length > kMaxDerivedBytes) return RvError(CKR_KEY_SIZE_RANGE, "derived key too long");
  // The peer is checked like an imported public key: on the curve, in the
  // prime-order subgroup, not the point at infinity.
  absl::StatusOr<EvpPkeyPtr> peer = PublicKeyFromAttributes(
      CKK_EC, {{CKA_EC_PARAMS, (*curve)->oid_der}, {CKA_EC_POINT, ecdh.public_data}});
  if (!peer.ok()) return RvError(CKR_MECHANISM_PARAM_INVALID, "ECDH peer point is not valid");
  HSM_ASSIGN_OR_RETURN(std::string z, SharedSecret(private_key, *peer));
  absl::StatusOr<std::string> key;
  if (digest != nullptr) {
    size_t length = key_length != 0
                        ? key_length
                        : static_cast<size_t>(EVP_MD_get_size(EVP_get_digestbyname(digest)));
    key = X963Kdf(digest, z, ecdh.shared_data, length);
  } else if (key_length > z.size()) {
    key = RvError(CKR_KEY_SIZE_RANGE, "CKD_NULL cannot give that many bytes");
  } else {
    // "The truncation removes bytes from the leading end of the secret value."
    key = z.substr(key_length == 0 ? 0 : z.size() - key_length);
  }
  OPENSSL_cleanse(z.data(), z.size());
  return key;
}

}  // namespace hsm::server::crypto
