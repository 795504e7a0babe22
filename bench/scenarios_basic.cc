// Small operations that measure the call path more than the cryptography:
// AES-GCM and SHA-256 over 1 KiB, 32 random bytes, EC key generation, and a
// session opened and closed.
#include <cstring>
#include <string>

#include "bench/keys.h"
#include "bench/scenarios.h"

namespace hsm::bench {
namespace {

const std::string kKiB(1024, '\xa5');

CK_BYTE* Bytes(const std::string& s) { return reinterpret_cast<CK_BYTE*>(const_cast<char*>(s.data())); }

class AesGcm1k : public Scenario {
 public:
  Status Setup(const Env& env, CK_SESSION_HANDLE session) override {
    return GenerateAes256(env, session, env.token_keys, &key_);
  }
  Status Run(const Env& env, Worker& worker) override {
    // A GCM IV must never repeat under one key: thread index and counter.
    CK_BYTE iv[12] = {};
    std::memcpy(iv, &worker.index, sizeof(worker.index));
    std::memcpy(iv + 4, &worker.done, sizeof(worker.done));
    CK_GCM_PARAMS params;
    std::memset(&params, 0, sizeof(params));
    params.pIv = iv;
    params.ulIvLen = sizeof(iv);
    params.ulIvBits = 8 * sizeof(iv);
    params.ulTagBits = 128;
    CK_MECHANISM mechanism{CKM_AES_GCM, &params, sizeof(params)};
    BENCH_P11("C_EncryptInit", env.p11->C_EncryptInit(worker.session, &mechanism, key_));
    CK_BYTE out[1024 + 16];
    CK_ULONG out_len = sizeof(out);
    BENCH_P11("C_Encrypt", env.p11->C_Encrypt(worker.session, Bytes(kKiB), kKiB.size(), out, &out_len));
    return Status::Ok();
  }
  Status Teardown(const Env& env, CK_SESSION_HANDLE session) override {
    return env.token_keys ? DestroyObjects(env, session, {key_}) : Status::Ok();
  }

 private:
  CK_OBJECT_HANDLE key_ = CK_INVALID_HANDLE;
};

class Sha256_1k : public Scenario {
 public:
  Status Run(const Env& env, Worker& worker) override {
    CK_MECHANISM mechanism{CKM_SHA256, nullptr, 0};
    BENCH_P11("C_DigestInit", env.p11->C_DigestInit(worker.session, &mechanism));
    CK_BYTE out[32];
    CK_ULONG out_len = sizeof(out);
    BENCH_P11("C_Digest", env.p11->C_Digest(worker.session, Bytes(kKiB), kKiB.size(), out, &out_len));
    return Status::Ok();
  }
};

class Random32 : public Scenario {
 public:
  Status Run(const Env& env, Worker& worker) override {
    CK_BYTE out[32];
    BENCH_P11("C_GenerateRandom", env.p11->C_GenerateRandom(worker.session, out, sizeof(out)));
    return Status::Ok();
  }
};

// Session key pairs: they pile up in the worker's session and go when the
// runner closes it, so no destroy is timed.
class KeygenEc : public Scenario {
 public:
  // The pairs are session objects, and pile up in memory: in any module, and
  // hsmd refuses more than --max_session_object_bytes (64 MiB) of them per
  // application. So every kPairsPerSession pairs the worker's session is
  // closed, which destroys them, and another is opened: timed, but one
  // close and one open per thousand generations.
  static constexpr uint64_t kPairsPerSession = 1000;

  Status Run(const Env& env, Worker& worker) override {
    KeyPair pair;
    Status status = GenerateEcP256(env, worker.session, /*token=*/false, &pair);
    if (!status.ok() || (worker.done + 1) % kPairsPerSession != 0) return status;
    BENCH_P11("C_CloseSession", env.p11->C_CloseSession(worker.session));
    worker.session = CK_INVALID_HANDLE;
    BENCH_P11("C_OpenSession", env.p11->C_OpenSession(env.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                                                      nullptr, &worker.session));
    return Status::Ok();
  }
};

class OpenCloseSession : public Scenario {
 public:
  Status Run(const Env& env, Worker& worker) override {
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    BENCH_P11("C_OpenSession", env.p11->C_OpenSession(env.slot, CKF_SERIAL_SESSION, nullptr, nullptr, &session));
    BENCH_P11("C_CloseSession", env.p11->C_CloseSession(session));
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Scenario> MakeAesGcm1k() { return std::make_unique<AesGcm1k>(); }
std::unique_ptr<Scenario> MakeSha256_1k() { return std::make_unique<Sha256_1k>(); }
std::unique_ptr<Scenario> MakeRandom32() { return std::make_unique<Random32>(); }
std::unique_ptr<Scenario> MakeKeygenEc() { return std::make_unique<KeygenEc>(); }
std::unique_ptr<Scenario> MakeOpenCloseSession() { return std::make_unique<OpenCloseSession>(); }

}  // namespace hsm::bench
