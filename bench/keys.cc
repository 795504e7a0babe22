#include "bench/keys.h"

#include <iterator>

namespace hsm::bench {
namespace {

CK_BBOOL kTrue = CK_TRUE;
CK_BBOOL kFalse = CK_FALSE;

CK_ATTRIBUTE Bool(CK_ATTRIBUTE_TYPE type, bool value) {
  return CK_ATTRIBUTE{type, value ? &kTrue : &kFalse, sizeof(CK_BBOOL)};
}

CK_ATTRIBUTE Label() {
  return CK_ATTRIBUTE{CKA_LABEL, const_cast<char*>(kKeyLabel), sizeof(kKeyLabel) - 1};
}

// DER of the prime256v1 OID, the CKA_EC_PARAMS of a P-256 key.
unsigned char kP256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

}  // namespace

Status GenerateRsa(const Env& env, CK_SESSION_HANDLE session, CK_ULONG bits, bool token, KeyPair* pair) {
  CK_BYTE exponent[] = {0x01, 0x00, 0x01};
  CK_ATTRIBUTE public_template[] = {
      Bool(CKA_TOKEN, token), Bool(CKA_VERIFY, true), Label(),
      {CKA_MODULUS_BITS, &bits, sizeof(bits)},
      {CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)},
  };
  CK_ATTRIBUTE private_template[] = {
      Bool(CKA_TOKEN, token), Bool(CKA_PRIVATE, true), Bool(CKA_SENSITIVE, true), Bool(CKA_SIGN, true), Label(),
  };
  CK_MECHANISM mechanism{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  BENCH_P11("C_GenerateKeyPair(RSA)",
            env.p11->C_GenerateKeyPair(session, &mechanism, public_template, std::size(public_template),
                                       private_template, std::size(private_template), &pair->public_key,
                                       &pair->private_key));
  return Status::Ok();
}

Status GenerateEcP256(const Env& env, CK_SESSION_HANDLE session, bool token, KeyPair* pair) {
  CK_ATTRIBUTE public_template[] = {
      Bool(CKA_TOKEN, token), Bool(CKA_VERIFY, true), Label(), {CKA_EC_PARAMS, kP256, sizeof(kP256)}};
  CK_ATTRIBUTE private_template[] = {
      Bool(CKA_TOKEN, token), Bool(CKA_PRIVATE, true), Bool(CKA_SENSITIVE, true), Bool(CKA_SIGN, true), Label(),
  };
  CK_MECHANISM mechanism{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  BENCH_P11("C_GenerateKeyPair(P-256)",
            env.p11->C_GenerateKeyPair(session, &mechanism, public_template, std::size(public_template),
                                       private_template, std::size(private_template), &pair->public_key,
                                       &pair->private_key));
  return Status::Ok();
}

Status GenerateAes256(const Env& env, CK_SESSION_HANDLE session, bool token, CK_OBJECT_HANDLE* key) {
  CK_ULONG length = 32;
  CK_ATTRIBUTE key_template[] = {
      Bool(CKA_TOKEN, token), Bool(CKA_PRIVATE, true), Bool(CKA_SENSITIVE, true), Bool(CKA_ENCRYPT, true),
      Bool(CKA_DECRYPT, true), Label(), {CKA_VALUE_LEN, &length, sizeof(length)},
  };
  CK_MECHANISM mechanism{CKM_AES_KEY_GEN, nullptr, 0};
  BENCH_P11("C_GenerateKey(AES-256)",
            env.p11->C_GenerateKey(session, &mechanism, key_template, std::size(key_template), key));
  return Status::Ok();
}

Status DestroyObjects(const Env& env, CK_SESSION_HANDLE session, const std::vector<CK_OBJECT_HANDLE>& objects) {
  Status first;
  for (CK_OBJECT_HANDLE object : objects) {
    if (object == CK_INVALID_HANDLE) continue;
    CK_RV rv = env.p11->C_DestroyObject(session, object);
    if (rv != CKR_OK && first.ok()) first = Status::Failed("C_DestroyObject", rv);
  }
  return first;
}

std::string Sha256DigestInfo(const std::string& hash32) {
  static const unsigned char kPrefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                          0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
  return std::string(reinterpret_cast<const char*>(kPrefix), sizeof(kPrefix)) + hash32;
}

}  // namespace hsm::bench
