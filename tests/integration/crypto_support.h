// Helpers for the end-to-end crypto tests: a logged-in session on the real
// library, one-call wrappers around the PKCS #11 operations (with the length
// query every careful application makes), key generation, and OpenSSL
// counterparts built from what a client reads back from the token.
#ifndef HSM_TESTS_INTEGRATION_CRYPTO_SUPPORT_H_
#define HSM_TESTS_INTEGRATION_CRYPTO_SUPPORT_H_

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <memory>
#include <string>

#include "tests/integration/fixture.h"
#include "tests/integration/template_builder.h"

namespace hsm::testing {

inline std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

inline std::string Hex(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

inline CK_BYTE_PTR In(const std::string& s) {
  return reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(s.data()));
}

// A mechanism whose parameter the caller keeps alive.
inline CK_MECHANISM Mech(CK_MECHANISM_TYPE type, void* parameter = nullptr, CK_ULONG length = 0) {
  return CK_MECHANISM{type, parameter, length};
}
template <typename Params>
CK_MECHANISM Mech(CK_MECHANISM_TYPE type, Params* parameter) {
  return CK_MECHANISM{type, parameter, sizeof(Params)};
}

// CKA_EC_PARAMS of the named curves (DER OBJECT IDENTIFIERs).
inline const std::string kP256Params = Unhex("06082a8648ce3d030107");
inline const std::string kP384Params = Unhex("06052b81040022");
inline const std::string kP521Params = Unhex("06052b81040023");
inline const std::string kEd25519Params = Unhex("06032b6570");  // 1.3.101.112

// A DigestInfo (PKCS #1 v1.5) for a SHA-256 hash.
inline std::string Sha256DigestInfo(const std::string& hash) {
  return Unhex("3031300d060960864801650304020105000420") + hash;
}

// ---------------------------------------------------------------- OpenSSL

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;

inline const unsigned char* U(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// The contents of a DER OCTET STRING with a short or one-byte long length, or
// "" if `der` is not one.
inline std::string OctetStringContents(const std::string& der) {
  if (der.size() < 2 || der[0] != 0x04) return "";
  size_t header = 2, length = static_cast<unsigned char>(der[1]);
  if (length == 0x81 && der.size() >= 3) {
    header = 3;
    length = static_cast<unsigned char>(der[2]);
  } else if (length >= 0x80) {
    return "";
  }
  return der.size() == header + length ? der.substr(header) : "";
}

// OpenSSL's public key from a token RSA key's modulus and exponent.
inline Pkey RsaPublicKey(const std::string& modulus, const std::string& exponent) {
  BIGNUM* n = BN_bin2bn(U(modulus), modulus.size(), nullptr);
  BIGNUM* e = BN_bin2bn(U(exponent), exponent.size(), nullptr);
  OSSL_PARAM_BLD* build = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_N, n);
  OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_E, e);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(build);
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1 || EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    key = nullptr;
  }
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(build);
  BN_free(n);
  BN_free(e);
  return Pkey(key);
}

// OpenSSL's public key from an uncompressed point on `group` ("P-256" ...).
inline Pkey EcPublicKey(const std::string& group, const std::string& point) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group.c_str()), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<char*>(point.data()), point.size()),
      OSSL_PARAM_construct_end()};
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1 || EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    key = nullptr;
  }
  return Pkey(key);
}

// An uncompressed public point of an OpenSSL EC key.
inline std::string EcPoint(EVP_PKEY* key) {
  unsigned char buffer[200];
  size_t length = 0;
  EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buffer, sizeof(buffer), &length);
  return std::string(reinterpret_cast<char*>(buffer), length);
}

// PKCS #11 ECDSA signatures are r || s; OpenSSL wants an ECDSA-Sig-Value.
inline std::string EcdsaRawToDer(const std::string& raw) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  const size_t half = raw.size() / 2;
  ECDSA_SIG_set0(sig, BN_bin2bn(U(raw), half, nullptr), BN_bin2bn(U(raw) + half, half, nullptr));
  unsigned char* der = nullptr;
  const int length = i2d_ECDSA_SIG(sig, &der);
  std::string out(reinterpret_cast<char*>(der), length > 0 ? length : 0);
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

// Verifies `signature` over `data` with a hash-then-sign algorithm (`md`
// names the hash; nullptr for Ed25519). `pss_salt` >= 0 selects RSA-PSS.
inline bool OpenSslVerifyMessage(EVP_PKEY* key, const char* md, const std::string& data,
                                 const std::string& signature, int pss_salt = -1) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = EVP_DigestVerifyInit_ex(ctx, &pctx, md, nullptr, nullptr, key, nullptr) == 1;
  if (ok && pss_salt >= 0) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_salt) == 1;
  }
  ok = ok && EVP_DigestVerify(ctx, U(signature), signature.size(), U(data), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

// Verifies a signature over an already computed hash (CKM_RSA_PKCS on a
// DigestInfo, CKM_RSA_PKCS_PSS, CKM_ECDSA). For RSA, `md` is the hash the
// signature claims; `pss_salt` >= 0 selects PSS; -2 means PKCS #1 v1.5.
inline bool OpenSslVerifyHash(EVP_PKEY* key, const char* md, const std::string& hash, const std::string& signature,
                              int pss_salt = -2) {
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  bool ok = EVP_PKEY_verify_init(ctx.get()) == 1;
  if (ok && md != nullptr) ok = EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_get_digestbyname(md)) == 1;
  if (ok && pss_salt >= 0) {
    ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), pss_salt) == 1;
  }
  return ok && EVP_PKEY_verify(ctx.get(), U(signature), signature.size(), U(hash), hash.size()) == 1;
}

// ---------------------------------------------------------------- token side

struct KeyPair {
  CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
};

// A logged-in R/W session per test, and the operations in one call each.
class CryptoTest : public Pkcs11Test {
 protected:
  void SetUp() override {
    Pkcs11Test::SetUp();
    session_ = Open();
    ASSERT_THAT(Login(session_, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  }

  CK_OBJECT_HANDLE Create(Tmpl t) {
    CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
    EXPECT_THAT(f_->C_CreateObject(session_, t.data(), t.size(), &object), RvIs(CKR_OK));
    return object;
  }

  // A secret key object with `value`; `usage` names what it may do.
  CK_OBJECT_HANDLE ImportSecret(CK_KEY_TYPE type, const std::string& value, Tmpl usage) {
    usage.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, type).Bytes(CKA_VALUE, value);
    return Create(std::move(usage));
  }

  std::string Bytes(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
    CK_ATTRIBUTE attribute = {type, nullptr, 0};
    EXPECT_THAT(f_->C_GetAttributeValue(session_, object, &attribute, 1), RvIs(CKR_OK));
    std::string value(attribute.ulValueLen, '\0');
    attribute.pValue = value.data();
    EXPECT_THAT(f_->C_GetAttributeValue(session_, object, &attribute, 1), RvIs(CKR_OK));
    value.resize(attribute.ulValueLen);
    return value;
  }
  CK_ULONG Ulong(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
    CK_ULONG value = 0;
    CK_ATTRIBUTE attribute = {type, &value, sizeof(value)};
    EXPECT_THAT(f_->C_GetAttributeValue(session_, object, &attribute, 1), RvIs(CKR_OK));
    return value;
  }
  bool Bool(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
    CK_BBOOL value = CK_FALSE;
    CK_ATTRIBUTE attribute = {type, &value, sizeof(value)};
    EXPECT_THAT(f_->C_GetAttributeValue(session_, object, &attribute, 1), RvIs(CKR_OK));
    return value == CK_TRUE;
  }

  std::string Digest(CK_MECHANISM_TYPE type, const std::string& data) {
    CK_MECHANISM mechanism = Mech(type);
    EXPECT_THAT(f_->C_DigestInit(session_, &mechanism), RvIs(CKR_OK));
    return Output(f_->C_Digest, data);
  }

  // C_Sign after a length query; "" and a test failure if either fails.
  std::string Sign(CK_MECHANISM mechanism, CK_OBJECT_HANDLE key, const std::string& data) {
    EXPECT_THAT(f_->C_SignInit(session_, &mechanism, key), RvIs(CKR_OK));
    return Output(f_->C_Sign, data);
  }
  CK_RV Verify(CK_MECHANISM mechanism, CK_OBJECT_HANDLE key, const std::string& data, const std::string& signature) {
    CK_RV rv = f_->C_VerifyInit(session_, &mechanism, key);
    if (rv != CKR_OK) return rv;
    return f_->C_Verify(session_, In(data), data.size(), In(signature), signature.size());
  }
  std::string Encrypt(CK_MECHANISM mechanism, CK_OBJECT_HANDLE key, const std::string& data) {
    EXPECT_THAT(f_->C_EncryptInit(session_, &mechanism, key), RvIs(CKR_OK));
    return Output(f_->C_Encrypt, data);
  }
  std::string Decrypt(CK_MECHANISM mechanism, CK_OBJECT_HANDLE key, const std::string& data) {
    EXPECT_THAT(f_->C_DecryptInit(session_, &mechanism, key), RvIs(CKR_OK));
    return Output(f_->C_Decrypt, data);
  }

  // A single-part call with output: length query, then the call itself.
  using OutputCall = CK_RV (*)(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
  std::string Output(OutputCall call, const std::string& in) {
    CK_ULONG length = 0;
    EXPECT_THAT(call(session_, In(in), in.size(), nullptr, &length), RvIs(CKR_OK));
    std::string out(length, '\0');
    CK_RV rv = call(session_, In(in), in.size(), In(out), &length);
    EXPECT_THAT(rv, RvIs(CKR_OK));
    if (rv != CKR_OK) return "";
    out.resize(length);
    return out;
  }

  std::string Wrap(CK_MECHANISM mechanism, CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key) {
    CK_ULONG length = 0;
    EXPECT_THAT(f_->C_WrapKey(session_, &mechanism, wrapping_key, key, nullptr, &length), RvIs(CKR_OK));
    std::string wrapped(length, '\0');
    EXPECT_THAT(f_->C_WrapKey(session_, &mechanism, wrapping_key, key, In(wrapped), &length), RvIs(CKR_OK));
    wrapped.resize(length);
    return wrapped;
  }

  KeyPair GenerateKeyPair(CK_MECHANISM_TYPE type, Tmpl public_template, Tmpl private_template) {
    CK_MECHANISM mechanism = Mech(type);
    KeyPair pair;
    EXPECT_THAT(f_->C_GenerateKeyPair(session_, &mechanism, public_template.data(), public_template.size(),
                                      private_template.data(), private_template.size(), &pair.public_key,
                                      &pair.private_key),
                RvIs(CKR_OK));
    return pair;
  }
  // Session keys unless `extra` says otherwise; 65537 as the exponent.
  KeyPair GenerateRsa(CK_ULONG bits = 2048, Tmpl private_template = Tmpl()) {
    return GenerateKeyPair(CKM_RSA_PKCS_KEY_PAIR_GEN,
                           Tmpl().Ulong(CKA_MODULUS_BITS, bits).Bytes(CKA_PUBLIC_EXPONENT, Unhex("010001")),
                           std::move(private_template));
  }
  KeyPair GenerateEc(const std::string& params, Tmpl private_template = Tmpl()) {
    return GenerateKeyPair(CKM_EC_KEY_PAIR_GEN, Tmpl().Bytes(CKA_EC_PARAMS, params), std::move(private_template));
  }

  // OpenSSL's copy of a token public key, from the attributes a client reads.
  Pkey RsaPublicOf(CK_OBJECT_HANDLE public_key) {
    return RsaPublicKey(Bytes(public_key, CKA_MODULUS), Bytes(public_key, CKA_PUBLIC_EXPONENT));
  }
  Pkey EcPublicOf(CK_OBJECT_HANDLE public_key, const std::string& group) {
    return EcPublicKey(group, OctetStringContents(Bytes(public_key, CKA_EC_POINT)));
  }

  CK_SESSION_HANDLE session_ = CK_INVALID_HANDLE;
};

}  // namespace hsm::testing

#endif  // HSM_TESTS_INTEGRATION_CRYPTO_SUPPORT_H_
