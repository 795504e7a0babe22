// Keys as OpenSSL objects, built from and turned back into PKCS #11
// attribute values; key generation; PKCS #8 for wrapping private keys.
//
// Attribute values are the bytes PKCS #11 stores: big-endian unsigned
// integers for RSA components, the DER of the curve's OID for CKA_EC_PARAMS,
// CKA_EC_POINT as a DER OCTET STRING around the point (a bare point is
// accepted on import), and CKA_VALUE raw (the EC scalar big-endian, the
// Ed25519 seed as is, secret key bytes).
#ifndef HSM_SERVER_CRYPTO_KEY_MATERIAL_H_
#define HSM_SERVER_CRYPTO_KEY_MATERIAL_H_

#include <openssl/evp.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/crypto/pkcs11_extra.h"

namespace hsm::server::crypto {

using AttributeBytes = std::map<CK_ATTRIBUTE_TYPE, std::string>;

// Shared because the server caches parsed keys and hands one to concurrent
// operations; OpenSSL allows concurrent use of an EVP_PKEY that is not
// modified.
using EvpPkeyPtr = std::shared_ptr<EVP_PKEY>;
// Takes ownership of `pkey` (nullptr gives an empty pointer).
EvpPkeyPtr AdoptPkey(EVP_PKEY* pkey);

// ---- Curves -----------------------------------------------------------------

enum class Curve { kP256, kP384, kP521, kEd25519 };

struct CurveInfo {
  Curve curve;
  const char* group_name;  // OpenSSL's name: "prime256v1", "ED25519" ...
  CK_KEY_TYPE key_type;    // CKK_EC or CKK_EC_EDWARDS
  size_t field_bytes;      // coordinate / scalar size; ECDSA r||s is twice this
  size_t bits;             // the key size CK_MECHANISM_INFO counts in
  std::string oid_der;     // CKA_EC_PARAMS as this library writes it
  int nid;                 // OpenSSL's NID
};

// The curve named by CKA_EC_PARAMS: a named-curve OID (P-256, P-384, P-521,
// Ed25519), or for Ed25519 also the PrintableString "edwards25519".
// CKR_CURVE_NOT_SUPPORTED for a well-formed OID of another curve;
// CKR_ATTRIBUTE_VALUE_INVALID for anything else.
absl::StatusOr<const CurveInfo*> CurveFromParams(const std::string& ec_params_der);
// The curve of an EC or Ed25519 key; CKR_KEY_TYPE_INCONSISTENT otherwise.
absl::StatusOr<const CurveInfo*> CurveOfKey(const EVP_PKEY* pkey);
// An EC key's field size in bytes (32, 48, 66); ECDSA signatures are twice it.
absl::StatusOr<size_t> EcFieldBytes(const EVP_PKEY* pkey);

// CKA_EC_POINT: `point` (uncompressed X9.62, or Ed25519's 32 bytes) in a DER
// OCTET STRING.
std::string EncodeEcPoint(const std::string& point);
// The point inside CKA_EC_POINT (or a pkcs11 3.0 "raw" point) for `curve`,
// checked for length; CKR_ATTRIBUTE_VALUE_INVALID if it is neither.
absl::StatusOr<std::string> DecodeEcPoint(const std::string& ec_point, const CurveInfo& curve);

// ---- Keys from attributes ---------------------------------------------------

// The key type of a key this library supports: CKK_RSA, CKK_EC (P-256/384/521)
// or CKK_EC_EDWARDS (Ed25519); CKR_KEY_TYPE_INCONSISTENT for anything else.
absl::StatusOr<CK_KEY_TYPE> KeyTypeOf(const EVP_PKEY* pkey);

// True if `pkey` holds a private key (not just the public half).
bool HasPrivateKey(const EVP_PKEY* pkey);

// CKK_RSA: CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT and either
// all or none of CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2,
// CKA_COEFFICIENT (checked for consistency). CKK_EC: CKA_EC_PARAMS, CKA_VALUE
// in [1, order). CKK_EC_EDWARDS: CKA_EC_PARAMS, CKA_VALUE of 32 bytes.
// CKR_TEMPLATE_INCOMPLETE if a required attribute is missing,
// CKR_ATTRIBUTE_VALUE_INVALID if the values do not make a valid key,
// CKR_KEY_TYPE_INCONSISTENT for another key type.
//
// `check`: kFull for attributes a client gave (C_CreateObject, C_UnwrapKey);
// kAlreadyChecked for an object hsmd made or checked when it was created and
// keeps sealed since: an RSA key then skips OpenSSL's pairwise check (which
// tests the primes: 100 ms and more for RSA-4096) and the round trip.
enum class KeyCheck { kFull, kAlreadyChecked };
absl::StatusOr<EvpPkeyPtr> PrivateKeyFromAttributes(CK_KEY_TYPE type, const AttributeBytes& attrs,
                                                    KeyCheck check = KeyCheck::kFull);
// CKK_RSA: CKA_MODULUS, CKA_PUBLIC_EXPONENT. CKK_EC / CKK_EC_EDWARDS:
// CKA_EC_PARAMS, CKA_EC_POINT (checked to be on the curve for EC).
absl::StatusOr<EvpPkeyPtr> PublicKeyFromAttributes(CK_KEY_TYPE type, const AttributeBytes& attrs);

// OK if `public_key` is the public half of `private_key`;
// CKR_KEY_TYPE_INCONSISTENT / CKR_ATTRIBUTE_VALUE_INVALID otherwise.
absl::Status CheckPublicMatchesPrivate(const EvpPkeyPtr& public_key, const EvpPkeyPtr& private_key);

// What a client can read back from a key: public: CKA_MODULUS and
// CKA_PUBLIC_EXPONENT, or CKA_EC_PARAMS and CKA_EC_POINT; private: every RSA
// component, or CKA_EC_PARAMS and CKA_VALUE. `type` (may be null) gets the
// key type.
absl::StatusOr<AttributeBytes> PublicAttributesFromKey(const EvpPkeyPtr& key, CK_KEY_TYPE* type);
absl::StatusOr<AttributeBytes> PrivateAttributesFromKey(const EvpPkeyPtr& key, CK_KEY_TYPE* type);

// ---- PKCS #8 ----------------------------------------------------------------

// DER PrivateKeyInfo (unencrypted), the payload wrapped by C_WrapKey.
absl::StatusOr<std::string> PrivateKeyToPkcs8(const EvpPkeyPtr& key);
// CKR_WRAPPED_KEY_INVALID if `der` is not a PrivateKeyInfo of a supported key.
absl::StatusOr<EvpPkeyPtr> PrivateKeyFromPkcs8(const std::string& der);

// ---- Generation -------------------------------------------------------------

// The RSA modulus sizes, in bits, that every RSA mechanism takes
// (CK_MECHANISM_INFO's range): generation, use and imported private keys.
inline constexpr int kMinRsaBits = 1024;
inline constexpr int kMaxRsaBits = 8192;

struct GeneratedKeyPair {
  EvpPkeyPtr key;  // the private key (it can do public operations too)
  AttributeBytes public_attributes;
  AttributeBytes private_attributes;
};

// `modulus_bits` in 1024..8192 (else CKR_KEY_SIZE_RANGE); `public_exponent_be`
// big-endian, empty for 65537, odd and > 1 (else CKR_ATTRIBUTE_VALUE_INVALID).
absl::StatusOr<GeneratedKeyPair> GenerateRsaKeyPair(CK_ULONG modulus_bits,
                                                    const std::string& public_exponent_be);
// P-256, P-384 or P-521; CKA_EC_PARAMS in the result is `ec_params_der` as
// given.
absl::StatusOr<GeneratedKeyPair> GenerateEcKeyPair(const std::string& ec_params_der);
// Ed25519 (by OID or by the name "edwards25519").
absl::StatusOr<GeneratedKeyPair> GenerateEdwardsKeyPair(const std::string& ec_params_der);

// Random CKA_VALUE for CKK_AES (16, 24, 32 bytes), CKK_DES3 (24 bytes, odd
// parity), CKK_GENERIC_SECRET and the HMAC key types (1..512 bytes).
// CKR_KEY_SIZE_RANGE for other lengths; CKR_KEY_TYPE_INCONSISTENT for other types.
absl::StatusOr<std::string> GenerateSecretKey(CK_KEY_TYPE type, CK_ULONG length_bytes);

// Sets each byte's low bit so that every byte has odd parity (DES keys).
void SetDesOddParity(std::string& key);

}  // namespace hsm::server::crypto

#endif  // HSM_SERVER_CRYPTO_KEY_MATERIAL_H_
