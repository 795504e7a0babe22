#include "server/pin_verifier.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <string>

namespace hsm::server {
namespace {

constexpr char kAlgorithm[] = "pbkdf2-sha256";
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

bool Derive(std::string_view pin, const std::string& salt, uint64_t iterations, std::string& out) {
  out.assign(kHashBytes, '\0');
  return PKCS5_PBKDF2_HMAC(pin.data(), static_cast<int>(pin.size()),
                           reinterpret_cast<const unsigned char*>(salt.data()),
                           static_cast<int>(salt.size()), static_cast<int>(iterations),
                           EVP_sha256(), static_cast<int>(out.size()),
                           reinterpret_cast<unsigned char*>(out.data())) == 1;
}

}  // namespace

absl::StatusOr<storage::PinVerifier> MakePinVerifier(std::string_view pin, uint64_t iterations) {
  std::string salt(kSaltBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), kSaltBytes) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  std::string hash;
  if (!Derive(pin, salt, iterations, hash)) return absl::InternalError("PBKDF2 failed");
  storage::PinVerifier verifier;
  verifier.set_algorithm(kAlgorithm);
  verifier.set_iterations(iterations);
  verifier.set_salt(salt);
  verifier.set_hash(hash);
  return verifier;
}

bool PinMatches(std::string_view pin, const storage::PinVerifier& verifier) {
  if (verifier.algorithm() != kAlgorithm || verifier.hash().size() != kHashBytes) return false;
  std::string hash;
  if (!Derive(pin, verifier.salt(), verifier.iterations(), hash)) return false;
  return CRYPTO_memcmp(hash.data(), verifier.hash().data(), kHashBytes) == 0;
}

}  // namespace hsm::server
