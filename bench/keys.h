// Keys the scenarios use, made at setup (never timed). Token keys carry the
// label kKeyLabel so that a run that died before its cleanup leaves
// recognisable leftovers.
#ifndef HSM_BENCH_KEYS_H_
#define HSM_BENCH_KEYS_H_

#include <string>
#include <vector>

#include "bench/scenario.h"
#include "bench/status.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::bench {

inline constexpr char kKeyLabel[] = "p11bench key";

struct KeyPair {
  CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
};

// A signing and verifying RSA pair of `bits` bits (public exponent 65537).
Status GenerateRsa(const Env& env, CK_SESSION_HANDLE session, CK_ULONG bits, bool token, KeyPair* pair);
// A signing and verifying ECDSA P-256 pair.
Status GenerateEcP256(const Env& env, CK_SESSION_HANDLE session, bool token, KeyPair* pair);
// An AES-256 key for encryption.
Status GenerateAes256(const Env& env, CK_SESSION_HANDLE session, bool token, CK_OBJECT_HANDLE* key);

// Destroys the objects that are not CK_INVALID_HANDLE; the first failure wins,
// but every object is tried.
Status DestroyObjects(const Env& env, CK_SESSION_HANDLE session, const std::vector<CK_OBJECT_HANDLE>& objects);

// A SHA-256 DigestInfo (DER prefix + 32-byte hash), what NSS signs with
// CKM_RSA_PKCS.
std::string Sha256DigestInfo(const std::string& hash32);

}  // namespace hsm::bench

#endif  // HSM_BENCH_KEYS_H_
