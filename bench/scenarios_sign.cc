// Signatures and verification with one key pair made at setup: the operations
// a CA's HSM spends its life on.
#include <string>

#include "bench/keys.h"
#include "bench/scenarios.h"

namespace hsm::bench {
namespace {

// A fixed stand-in for a SHA-256 hash (or a short message for the hashing
// mechanisms): its value does not change the cost.
const std::string kHash(32, '\x5a');

CK_BYTE* Bytes(const std::string& s) { return reinterpret_cast<CK_BYTE*>(const_cast<char*>(s.data())); }

enum class KeyKind { kRsa2048, kRsa4096, kEcP256 };

Status Generate(const Env& env, CK_SESSION_HANDLE session, KeyKind kind, KeyPair* pair) {
  switch (kind) {
    case KeyKind::kRsa2048:
      return GenerateRsa(env, session, 2048, env.token_keys, pair);
    case KeyKind::kRsa4096:
      return GenerateRsa(env, session, 4096, env.token_keys, pair);
    case KeyKind::kEcP256:
      break;
  }
  return GenerateEcP256(env, session, env.token_keys, pair);
}

// C_SignInit + C_Sign with a buffer large enough for any of our signatures,
// so no length query is made (NSS knows the length from the key, too).
Status SignOnce(const Env& env, CK_SESSION_HANDLE session, CK_MECHANISM_TYPE type, CK_OBJECT_HANDLE key,
                const std::string& input, std::string* signature) {
  CK_MECHANISM mechanism{type, nullptr, 0};
  BENCH_P11("C_SignInit", env.p11->C_SignInit(session, &mechanism, key));
  CK_BYTE out[512];
  CK_ULONG out_len = sizeof(out);
  BENCH_P11("C_Sign", env.p11->C_Sign(session, Bytes(input), input.size(), out, &out_len));
  if (signature != nullptr) signature->assign(reinterpret_cast<char*>(out), out_len);
  return Status::Ok();
}

// The pair's lifetime: made at setup, destroyed at teardown if on the token
// (session keys go with the setup session).
class WithKeyPair : public Scenario {
 public:
  explicit WithKeyPair(KeyKind kind) : kind_(kind) {}
  Status Setup(const Env& env, CK_SESSION_HANDLE session) override {
    return Generate(env, session, kind_, &pair_);
  }
  Status Teardown(const Env& env, CK_SESSION_HANDLE session) override {
    if (!env.token_keys) return Status::Ok();
    return DestroyObjects(env, session, {pair_.public_key, pair_.private_key});
  }

 protected:
  const KeyKind kind_;
  KeyPair pair_;
};

class Sign : public WithKeyPair {
 public:
  Sign(KeyKind kind, CK_MECHANISM_TYPE mechanism, std::string input)
      : WithKeyPair(kind), mechanism_(mechanism), input_(std::move(input)) {}
  Status Run(const Env& env, Worker& worker) override {
    return SignOnce(env, worker.session, mechanism_, pair_.private_key, input_, nullptr);
  }

 private:
  const CK_MECHANISM_TYPE mechanism_;
  const std::string input_;
};

class RsaVerify : public WithKeyPair {
 public:
  RsaVerify() : WithKeyPair(KeyKind::kRsa2048) {}
  Status Setup(const Env& env, CK_SESSION_HANDLE session) override {
    BENCH_RETURN_IF_ERROR(WithKeyPair::Setup(env, session));
    return SignOnce(env, session, CKM_SHA256_RSA_PKCS, pair_.private_key, kHash, &signature_);
  }
  Status Run(const Env& env, Worker& worker) override {
    CK_MECHANISM mechanism{CKM_SHA256_RSA_PKCS, nullptr, 0};
    BENCH_P11("C_VerifyInit", env.p11->C_VerifyInit(worker.session, &mechanism, pair_.public_key));
    BENCH_P11("C_Verify", env.p11->C_Verify(worker.session, Bytes(kHash), kHash.size(), Bytes(signature_),
                                            signature_.size()));
    return Status::Ok();
  }

 private:
  std::string signature_;
};

// What NSS does for every signature (../shared/reference/client-behaviour.md):
// a fresh session, the init, a read of CKA_ALWAYS_AUTHENTICATE, the raw
// CKM_RSA_PKCS signature over a DigestInfo, and the session closed again.
// The worker's own session is left idle.
class NssSignFlow : public WithKeyPair {
 public:
  NssSignFlow() : WithKeyPair(KeyKind::kRsa2048) {}
  Status Run(const Env& env, Worker& worker) override {
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    BENCH_P11("C_OpenSession", env.p11->C_OpenSession(env.slot, CKF_SERIAL_SESSION, nullptr, nullptr, &session));
    Status status = SignInSession(env, session);
    CK_RV closed = env.p11->C_CloseSession(session);
    if (!status.ok()) return status;
    BENCH_P11("C_CloseSession", closed);
    return Status::Ok();
  }

 private:
  Status SignInSession(const Env& env, CK_SESSION_HANDLE session) {
    CK_MECHANISM mechanism{CKM_RSA_PKCS, nullptr, 0};
    BENCH_P11("C_SignInit", env.p11->C_SignInit(session, &mechanism, pair_.private_key));
    CK_BBOOL always = CK_FALSE;
    CK_ATTRIBUTE query{CKA_ALWAYS_AUTHENTICATE, &always, sizeof(always)};
    BENCH_P11("C_GetAttributeValue", env.p11->C_GetAttributeValue(session, pair_.private_key, &query, 1));
    CK_BYTE out[512];
    CK_ULONG out_len = sizeof(out);
    BENCH_P11("C_Sign", env.p11->C_Sign(session, Bytes(digest_info_), digest_info_.size(), out, &out_len));
    return Status::Ok();
  }

  const std::string digest_info_ = Sha256DigestInfo(kHash);
};

}  // namespace

std::unique_ptr<Scenario> MakeRsaSign() {
  return std::make_unique<Sign>(KeyKind::kRsa2048, CKM_SHA256_RSA_PKCS, kHash);
}
std::unique_ptr<Scenario> MakeRsa4096Sign() {
  return std::make_unique<Sign>(KeyKind::kRsa4096, CKM_SHA256_RSA_PKCS, kHash);
}
std::unique_ptr<Scenario> MakeRsaRawSign() {
  return std::make_unique<Sign>(KeyKind::kRsa2048, CKM_RSA_PKCS, Sha256DigestInfo(kHash));
}
std::unique_ptr<Scenario> MakeEcdsaSign() { return std::make_unique<Sign>(KeyKind::kEcP256, CKM_ECDSA, kHash); }
std::unique_ptr<Scenario> MakeRsaVerify() { return std::make_unique<RsaVerify>(); }
std::unique_ptr<Scenario> MakeNssSignFlow() { return std::make_unique<NssSignFlow>(); }

}  // namespace hsm::bench
