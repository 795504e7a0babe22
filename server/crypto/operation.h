// Cryptographic operations: one object per C_*Init, with the single-part
// (C_Sign, C_Encrypt ...) and multi-part (C_*Update, C_*Final) calls.
//
// Errors carry the CK_RV PKCS #11 prescribes (see server/rv.h). After any
// error other than a length query the caller must end the operation, as
// PKCS #11 requires; operation objects are not reusable after Final / Once.
// An operation object is used by one thread at a time; keys may be shared.
//
// Mechanisms that PKCS #11 makes single-part only (CKM_RSA_PKCS,
// CKM_RSA_X_509, CKM_RSA_PKCS_PSS, CKM_RSA_PKCS_OAEP, CKM_ECDSA, CKM_EDDSA,
// CKM_AES_KEY_WRAP[_PAD]) answer Update and Final with
// CKR_FUNCTION_NOT_SUPPORTED.
#ifndef HSM_SERVER_CRYPTO_OPERATION_H_
#define HSM_SERVER_CRYPTO_OPERATION_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/crypto/context_pool.h"
#include "server/crypto/key_material.h"
#include "server/crypto/pkcs11_extra.h"

namespace hsm::server::crypto {

// A mechanism and its parameters as typed values (the server fills these
// from the wire). Only the member the mechanism uses is read.
struct MechanismParams {
  CK_MECHANISM_TYPE type = 0;
  // CBC / CBC_PAD IV (16 bytes AES, 8 bytes DES3); AES key wrap IV (optional:
  // 8 bytes for CKM_AES_KEY_WRAP, 4 for CKM_AES_KEY_WRAP_PAD).
  std::string iv;
  struct Pss {
    CK_MECHANISM_TYPE hash_alg;
    CK_RSA_PKCS_MGF_TYPE mgf;
    CK_ULONG salt_len;
  };
  std::optional<Pss> pss;
  struct Oaep {
    CK_MECHANISM_TYPE hash_alg;
    CK_RSA_PKCS_MGF_TYPE mgf;
    CK_ULONG source;          // 0 or CKZ_DATA_SPECIFIED
    std::string source_data;  // the label
  };
  std::optional<Oaep> oaep;
  struct Gcm {
    std::string iv;
    CK_ULONG iv_bits;  // ignored: 2.40 clients disagree on it; iv.size() rules
    std::string aad;
    CK_ULONG tag_bits;
  };
  std::optional<Gcm> gcm;
  struct Ctr {
    CK_ULONG counter_bits;
    std::string counter_block;  // 16 bytes
  };
  std::optional<Ctr> ctr;
  struct Ecdh {
    CK_EC_KDF_TYPE kdf;
    std::string shared_data;
    std::string public_data;  // DER OCTET STRING or bare point
  };
  std::optional<Ecdh> ecdh;
  std::optional<CK_ULONG> mac_length;  // unused by the mechanisms implemented
};

class SignOperation {
 public:
  virtual ~SignOperation() = default;
  virtual absl::Status Update(std::string_view data) = 0;
  virtual absl::StatusOr<std::string> Final() = 0;
  // C_Sign.
  virtual absl::StatusOr<std::string> SignOnce(std::string_view data) = 0;
  // The signature's length, for length queries without signing.
  virtual size_t SignatureLength() const = 0;
};

class VerifyOperation {
 public:
  virtual ~VerifyOperation() = default;
  virtual absl::Status Update(std::string_view data) = 0;
  // CKR_SIGNATURE_INVALID or CKR_SIGNATURE_LEN_RANGE if `signature` is wrong.
  virtual absl::Status Final(std::string_view signature) = 0;
  // C_Verify.
  virtual absl::Status VerifyOnce(std::string_view data, std::string_view signature) = 0;
  virtual size_t SignatureLength() const = 0;
};

// Encryption or decryption.
class CipherOperation {
 public:
  virtual ~CipherOperation() = default;
  virtual absl::StatusOr<std::string> Update(std::string_view in) = 0;
  virtual absl::StatusOr<std::string> Final() = 0;
  // C_Encrypt / C_Decrypt.
  virtual absl::StatusOr<std::string> Once(std::string_view in) = 0;
  // An upper bound on what Update(input_len bytes) or Once(input_len bytes)
  // returns, given what earlier Updates left buffered; MaxOutputLength(0)
  // bounds Final().
  virtual size_t MaxOutputLength(size_t input_len) const = 0;
  // The input kept from Updates until Final (AES-GCM decryption), in bytes.
  virtual size_t BufferedBytes() const { return 0; }
};

class DigestOperation {
 public:
  virtual ~DigestOperation() = default;
  // Also C_DigestKey, with the key's value.
  virtual absl::Status Update(std::string_view data) = 0;
  virtual absl::StatusOr<std::string> Final() = 0;
  virtual absl::StatusOr<std::string> Once(std::string_view data) = 0;
  virtual size_t DigestLength() const = 0;
};

// Factories. `key` is the EVP_PKEY for asymmetric mechanisms (a private key to
// sign and decrypt; a public or private key to verify and encrypt), and
// `secret_key` the CKA_VALUE for secret-key mechanisms; the other is empty.
// The caller checks the key's CKA_KEY_TYPE for secret keys with
// CheckKeyTypeForMechanism (mechanism_table.h); lengths are checked here.
//
// CKR_MECHANISM_INVALID: not a mechanism for this function;
// CKR_MECHANISM_PARAM_INVALID: missing or bad parameters;
// CKR_KEY_TYPE_INCONSISTENT: the key does not suit the mechanism;
// CKR_KEY_SIZE_RANGE: the key's size is outside the mechanism's range.
//
// `contexts`, the cached key's pool (may be null), keeps OpenSSL contexts
// for the key's next signatures and verifications.
absl::StatusOr<std::unique_ptr<SignOperation>> NewSignOperation(
    const MechanismParams& params, const EvpPkeyPtr& key, const std::string& secret_key,
    std::shared_ptr<ContextPool> contexts = nullptr);
absl::StatusOr<std::unique_ptr<VerifyOperation>> NewVerifyOperation(
    const MechanismParams& params, const EvpPkeyPtr& key, const std::string& secret_key,
    std::shared_ptr<ContextPool> contexts = nullptr);
absl::StatusOr<std::unique_ptr<CipherOperation>> NewEncryptOperation(const MechanismParams& params,
                                                                     const EvpPkeyPtr& key,
                                                                     const std::string& secret_key);
absl::StatusOr<std::unique_ptr<CipherOperation>> NewDecryptOperation(const MechanismParams& params,
                                                                     const EvpPkeyPtr& key,
                                                                     const std::string& secret_key);
absl::StatusOr<std::unique_ptr<DigestOperation>> NewDigestOperation(const MechanismParams& params);

// C_SignRecover / C_VerifyRecover for CKM_RSA_PKCS and CKM_RSA_X_509.
absl::StatusOr<std::string> SignRecover(const MechanismParams& params,
                                        const EvpPkeyPtr& private_key, std::string_view data);
absl::StatusOr<std::string> VerifyRecover(const MechanismParams& params,
                                          const EvpPkeyPtr& public_key, std::string_view signature);

// C_WrapKey: encrypts `key_bytes` (a secret key's CKA_VALUE, or a private key
// as PKCS #8 DER) with CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD, CKM_AES_ECB,
// CKM_AES_CBC, CKM_AES_CBC_PAD, the DES3 equivalents, CKM_RSA_PKCS,
// CKM_RSA_X_509 or CKM_RSA_PKCS_OAEP. ECB and CBC without padding zero-pad the
// key to the block size, as PKCS #11 says. Errors use the wrapping codes:
// CKR_WRAPPING_KEY_TYPE_INCONSISTENT, CKR_WRAPPING_KEY_SIZE_RANGE, and
// CKR_KEY_SIZE_RANGE for a key the mechanism cannot wrap.
absl::StatusOr<std::string> WrapKey(const MechanismParams& params, const EvpPkeyPtr& wrapping_key,
                                    const std::string& wrapping_secret,
                                    const std::string& key_bytes);
// C_UnwrapKey: the inverse. `value_length` is the template's CKA_VALUE_LEN, or
// 0: it trims what ECB, CBC and CKM_RSA_X_509 cannot tell apart from padding
// (trailing zeros for block modes, leading zeros for raw RSA), and must
// equal the length for mechanisms that keep it. CKR_WRAPPED_KEY_INVALID,
// CKR_WRAPPED_KEY_LEN_RANGE, CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
// CKR_UNWRAPPING_KEY_SIZE_RANGE, CKR_TEMPLATE_INCONSISTENT (length).
absl::StatusOr<std::string> UnwrapKey(const MechanismParams& params,
                                      const EvpPkeyPtr& unwrapping_key,
                                      const std::string& unwrapping_secret,
                                      const std::string& wrapped, CK_ULONG value_length);

// CKM_ECDH1_DERIVE: the shared secret with the peer point in
// params.ecdh->public_data, through CKD_NULL or the ANSI X9.63 KDF with
// SHA-1/224/256/384/512 (CKD_SHAxxx_KDF) over params.ecdh->shared_data.
// `key_length` bytes of output (0: the whole secret for CKD_NULL, one hash
// for a KDF); CKD_NULL keeps the trailing bytes, as PKCS #11 truncates "from
// the leading end". CKR_KEY_SIZE_RANGE if CKD_NULL cannot give that many.
absl::StatusOr<std::string> DeriveEcdh(const MechanismParams& params, const EvpPkeyPtr& private_key,
                                       CK_ULONG key_length);

}  // namespace hsm::server::crypto

#endif  // HSM_SERVER_CRYPTO_OPERATION_H_
