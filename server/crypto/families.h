// Internal: what each mechanism family gives operation.cc, and the adapters
// that turn a family's primitive into PKCS #11-shaped operation objects.
#ifndef HSM_SERVER_CRYPTO_FAMILIES_H_
#define HSM_SERVER_CRYPTO_FAMILIES_H_

#include <openssl/evp.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/crypto/context_pool.h"
#include "server/crypto/key_material.h"
#include "server/crypto/operation.h"

namespace hsm::server::crypto {

// ---- Adapters (adapters.cc) -------------------------------------------------

// An asymmetric signature scheme bound to a key. `input` is the message for
// single-part mechanisms, or the message's digest for hash-then-sign ones.
class Signer {
 public:
  virtual ~Signer() = default;
  virtual absl::StatusOr<std::string> Sign(std::string_view input) const = 0;
  virtual absl::Status Verify(std::string_view input, std::string_view signature) const = 0;
  virtual size_t SignatureLength() const = 0;
};

struct SignerSetup {
  std::shared_ptr<const Signer> signer;
  // The digest a multi-part mechanism hashes with; nullptr makes the
  // mechanism single-part, signing its input as given.
  const EVP_MD* prehash = nullptr;
};

std::unique_ptr<SignOperation> MakeSignOperation(SignerSetup setup);
std::unique_ptr<VerifyOperation> MakeVerifyOperation(SignerSetup setup);

// A cipher that needs all of its input at once. With `multi_part`, Update
// buffers and Final runs `run` over everything; without, Update and Final are
// CKR_FUNCTION_NOT_SUPPORTED. `max_output` bounds run's output for an input
// length.
std::unique_ptr<CipherOperation> MakeOneShotCipher(
    std::function<absl::StatusOr<std::string>(std::string_view)> run,
    std::function<size_t(size_t)> max_output, bool multi_part);

// CKR_FUNCTION_NOT_SUPPORTED for Update/Final of single-part mechanisms.
absl::Status SinglePartOnly();

// ---- Families ---------------------------------------------------------------

// rsa_sign.cc: CKM_RSA_PKCS, CKM_RSA_X_509, CKM_RSA_PKCS_PSS, CKM_SHAxxx_RSA_PKCS[_PSS].
// `contexts` (may be null) keeps the signer's OpenSSL contexts for the key's
// next operations (context_pool.h).
absl::StatusOr<SignerSetup> NewRsaSigner(const MechanismParams& params, const EvpPkeyPtr& key,
                                         std::shared_ptr<ContextPool> contexts = nullptr);
absl::StatusOr<std::string> RsaSignRecover(const MechanismParams& params, const EvpPkeyPtr& key,
                                           std::string_view data);
absl::StatusOr<std::string> RsaVerifyRecover(const MechanismParams& params, const EvpPkeyPtr& key,
                                             std::string_view signature);
// rsa_cipher.cc: CKM_RSA_PKCS, CKM_RSA_X_509, CKM_RSA_PKCS_OAEP.
absl::StatusOr<std::unique_ptr<CipherOperation>> NewRsaCipher(const MechanismParams& params,
                                                              const EvpPkeyPtr& key, bool encrypt);
// rsa_util.cc: shared checks.
absl::Status CheckRsaKey(const EVP_PKEY* key);
// Left-pads `data` with zeros to the modulus size; CKR_DATA_LEN_RANGE if it
// is longer, `too_large_rv` if its value is not below the modulus.
absl::StatusOr<std::string> RawRsaBlock(const EVP_PKEY* key, std::string_view data,
                                        CK_RV too_large_rv);

// ecdsa.cc: CKM_ECDSA, CKM_ECDSA_SHAxxx.
absl::StatusOr<SignerSetup> NewEcdsaSigner(const MechanismParams& params, const EvpPkeyPtr& key,
                                           std::shared_ptr<ContextPool> contexts = nullptr);
// eddsa.cc: CKM_EDDSA (pure Ed25519).
absl::StatusOr<SignerSetup> NewEddsaSigner(const MechanismParams& params, const EvpPkeyPtr& key);

// mac.cc: HMAC (CKM_SHAxxx_HMAC) and CKM_AES_CMAC.
absl::StatusOr<std::unique_ptr<SignOperation>> NewMacSign(const MechanismParams& params,
                                                          const std::string& key);
absl::StatusOr<std::unique_ptr<VerifyOperation>> NewMacVerify(const MechanismParams& params,
                                                              const std::string& key);

// block_cipher.cc: AES and DES3 ECB / CBC / CBC_PAD, AES CTR.
absl::StatusOr<std::unique_ptr<CipherOperation>> NewBlockCipher(const MechanismParams& params,
                                                                const std::string& key,
                                                                bool encrypt);
// Block size of a block-mode mechanism (16 AES, 8 DES3), or 0.
size_t BlockSizeOf(CK_MECHANISM_TYPE mechanism);
// The EVP cipher for an AES key of `key_bytes` and `mode` ("ECB", "GCM" ...);
// CKR_KEY_SIZE_RANGE for a bad length.
absl::StatusOr<const EVP_CIPHER*> AesCipher(size_t key_bytes, const std::string& mode);

// aes_gcm.cc
absl::StatusOr<std::unique_ptr<CipherOperation>> NewAesGcm(const MechanismParams& params,
                                                           const std::string& key, bool encrypt);
// key_wrap.cc: CKM_AES_KEY_WRAP (RFC 3394), CKM_AES_KEY_WRAP_PAD (RFC 5649).
absl::StatusOr<std::unique_ptr<CipherOperation>> NewAesKeyWrap(const MechanismParams& params,
                                                               const std::string& key,
                                                               bool encrypt);

}  // namespace hsm::server::crypto

#endif  // HSM_SERVER_CRYPTO_FAMILIES_H_
