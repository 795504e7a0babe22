// RSA signatures and encryption with a generated 2048-bit key: round trips
// for every mechanism, interoperability with OpenSSL's own EVP signing, and
// the PKCS #11 error codes.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <string>
#include <vector>

#include "server/crypto/key_material.h"
#include "server/crypto/openssl_util.h"
#include "server/crypto/operation.h"
#include "server/crypto/test_util.h"

namespace hsm::server::crypto {
namespace {

using testing::HasRv;
using testing::Hex;

constexpr size_t kModulusBytes = 256;
const std::string kSha256DigestInfoPrefix = Hex("3031300d060960864801650304020105000420");

class RsaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pair = GenerateRsaKeyPair(2048, "");
    ASSERT_TRUE(pair.ok()) << pair.status();
    pair_ = new GeneratedKeyPair(std::move(*pair));
    auto public_key = PublicKeyFromAttributes(CKK_RSA, pair_->public_attributes);
    ASSERT_TRUE(public_key.ok()) << public_key.status();
    public_key_ = new EvpPkeyPtr(*public_key);
  }
  static void TearDownTestSuite() {
    delete pair_;
    delete public_key_;
  }

  static const EvpPkeyPtr& PrivateKey() { return pair_->key; }
  static const EvpPkeyPtr& PublicKey() { return *public_key_; }

  static GeneratedKeyPair* pair_;
  static EvpPkeyPtr* public_key_;
};

GeneratedKeyPair* RsaTest::pair_ = nullptr;
EvpPkeyPtr* RsaTest::public_key_ = nullptr;

MechanismParams Params(CK_MECHANISM_TYPE type) {
  MechanismParams params;
  params.type = type;
  return params;
}

MechanismParams PssParams(CK_MECHANISM_TYPE type, CK_MECHANISM_TYPE hash, CK_RSA_PKCS_MGF_TYPE mgf,
                          CK_ULONG salt) {
  MechanismParams params = Params(type);
  params.pss = MechanismParams::Pss{hash, mgf, salt};
  return params;
}

std::string Sha256(const std::string& data) {
  std::string digest(32, '\0');
  EVP_Digest(data.data(), data.size(), MutableBytes(digest), nullptr, EVP_sha256(), nullptr);
  return digest;
}

struct SignCase {
  const char* name;
  MechanismParams params;
  bool multi_part;
  std::string input;  // what SignOnce takes
};

std::vector<SignCase> SignCases() {
  std::string message = "The quick brown fox jumps over the lazy dog";
  std::vector<SignCase> cases = {
      {"RsaPkcs", Params(CKM_RSA_PKCS), false, kSha256DigestInfoPrefix + Sha256(message)},
      {"RsaX509", Params(CKM_RSA_X_509), false, "short input, left-padded"},
      {"RsaPkcsPss", PssParams(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32), false,
       Sha256(message)},
  };
  struct Hashed {
    const char* name;
    CK_MECHANISM_TYPE pkcs, pss, hash;
    CK_RSA_PKCS_MGF_TYPE mgf;
    CK_ULONG hash_length;
  };
  static const Hashed kHashed[] = {
      {"Sha1", CKM_SHA1_RSA_PKCS, CKM_SHA1_RSA_PKCS_PSS, CKM_SHA_1, CKG_MGF1_SHA1, 20},
      {"Sha224", CKM_SHA224_RSA_PKCS, CKM_SHA224_RSA_PKCS_PSS, CKM_SHA224, CKG_MGF1_SHA224, 28},
      {"Sha256", CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32},
      {"Sha384", CKM_SHA384_RSA_PKCS, CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48},
      {"Sha512", CKM_SHA512_RSA_PKCS, CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 64},
  };
  for (const Hashed& h : kHashed) {
    cases.push_back({h.name, Params(h.pkcs), true, message});
    cases.push_back({h.name, PssParams(h.pss, h.hash, h.mgf, h.hash_length), true, message});
  }
  return cases;
}

TEST_F(RsaTest, EverySignatureMechanismRoundTrips) {
  for (const SignCase& c : SignCases()) {
    SCOPED_TRACE(c.name);
    SCOPED_TRACE(c.params.type);
    auto sign = NewSignOperation(c.params, PrivateKey(), "");
    ASSERT_TRUE(sign.ok()) << sign.status();
    EXPECT_EQ((*sign)->SignatureLength(), kModulusBytes);
    auto signature = (*sign)->SignOnce(c.input);
    ASSERT_TRUE(signature.ok()) << signature.status();
    EXPECT_EQ(signature->size(), kModulusBytes);

    auto verify = NewVerifyOperation(c.params, PublicKey(), "");
    ASSERT_TRUE(verify.ok()) << verify.status();
    EXPECT_TRUE((*verify)->VerifyOnce(c.input, *signature).ok());

    std::string tampered = *signature;
    tampered[100] ^= 0x01;
    auto verify_bad = NewVerifyOperation(c.params, PublicKey(), "");
    ASSERT_TRUE(verify_bad.ok());
    EXPECT_TRUE(HasRv((*verify_bad)->VerifyOnce(c.input, tampered), CKR_SIGNATURE_INVALID));
    auto verify_short = NewVerifyOperation(c.params, PublicKey(), "");
    ASSERT_TRUE(verify_short.ok());
    EXPECT_TRUE(
        HasRv((*verify_short)->VerifyOnce(c.input, signature->substr(1)), CKR_SIGNATURE_LEN_RANGE));

    auto multi_sign = NewSignOperation(c.params, PrivateKey(), "");
    ASSERT_TRUE(multi_sign.ok());
    if (!c.multi_part) {
      EXPECT_TRUE(HasRv((*multi_sign)->Update(c.input), CKR_FUNCTION_NOT_SUPPORTED));
      continue;
    }
    ASSERT_TRUE((*multi_sign)->Update(c.input.substr(0, 10)).ok());
    ASSERT_TRUE((*multi_sign)->Update(c.input.substr(10)).ok());
    auto multi_signature = (*multi_sign)->Final();
    ASSERT_TRUE(multi_signature.ok());
    auto multi_verify = NewVerifyOperation(c.params, PublicKey(), "");
    ASSERT_TRUE(multi_verify.ok());
    ASSERT_TRUE((*multi_verify)->Update(c.input.substr(0, 3)).ok());
    ASSERT_TRUE((*multi_verify)->Update(c.input.substr(3)).ok());
    EXPECT_TRUE((*multi_verify)->Final(*multi_signature).ok());
  }
}

TEST_F(RsaTest, RawPkcsOverDigestInfoMatchesOpenSslAndTheHashedMechanism) {
  std::string message = "message signed two ways";
  auto raw = NewSignOperation(Params(CKM_RSA_PKCS), PrivateKey(), "");
  ASSERT_TRUE(raw.ok());
  auto raw_signature = (*raw)->SignOnce(kSha256DigestInfoPrefix + Sha256(message));
  ASSERT_TRUE(raw_signature.ok());

  // OpenSSL's own RSASSA-PKCS1-v1_5 with SHA-256 accepts it.
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, PublicKey().get()), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx.get(), Bytes(*raw_signature), raw_signature->size(),
                             Bytes(message), message.size()),
            1);

  // PKCS #1 v1.5 is deterministic: CKM_SHA256_RSA_PKCS gives the same bytes.
  auto hashed = NewSignOperation(Params(CKM_SHA256_RSA_PKCS), PrivateKey(), "");
  ASSERT_TRUE(hashed.ok());
  EXPECT_EQ(*(*hashed)->SignOnce(message), *raw_signature);
}

TEST_F(RsaTest, SignatureLimitsAndParameters) {
  auto raw = NewSignOperation(Params(CKM_RSA_PKCS), PrivateKey(), "");
  ASSERT_TRUE(raw.ok());
  EXPECT_TRUE((*raw)->SignOnce(std::string(kModulusBytes - 11, 'a')).ok());
  auto too_long = NewSignOperation(Params(CKM_RSA_PKCS), PrivateKey(), "");
  ASSERT_TRUE(too_long.ok());
  EXPECT_TRUE(
      HasRv((*too_long)->SignOnce(std::string(kModulusBytes - 10, 'a')), CKR_DATA_LEN_RANGE));
  auto x509 = NewSignOperation(Params(CKM_RSA_X_509), PrivateKey(), "");
  ASSERT_TRUE(x509.ok());
  EXPECT_TRUE(HasRv((*x509)->SignOnce(std::string(kModulusBytes + 1, 'a')), CKR_DATA_LEN_RANGE));

  EXPECT_TRUE(
      HasRv(NewSignOperation(PssParams(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA256, 32),
                             PrivateKey(), ""),
            CKR_MECHANISM_PARAM_INVALID));
  EXPECT_TRUE(HasRv(NewSignOperation(Params(CKM_SHA256_RSA_PKCS_PSS), PrivateKey(), ""),
                    CKR_MECHANISM_PARAM_INVALID));
  EXPECT_TRUE(
      HasRv(NewSignOperation(PssParams(CKM_RSA_PKCS_PSS, CKM_SHA256, 0x77, 32), PrivateKey(), ""),
            CKR_MECHANISM_PARAM_INVALID));
  EXPECT_TRUE(HasRv(NewSignOperation(PssParams(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 300),
                                     PrivateKey(), ""),
                    CKR_MECHANISM_PARAM_INVALID));
  auto pss =
      NewSignOperation(PssParams(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA1, 0), PrivateKey(), "");
  ASSERT_TRUE(pss.ok());
  EXPECT_TRUE(HasRv((*pss)->SignOnce(std::string(20, 'h')), CKR_DATA_LEN_RANGE));

  // Signing takes the private key; the other families' mechanisms refuse RSA.
  EXPECT_TRUE(
      HasRv(NewSignOperation(Params(CKM_RSA_PKCS), PublicKey(), ""), CKR_KEY_TYPE_INCONSISTENT));
  EXPECT_TRUE(
      HasRv(NewSignOperation(Params(CKM_ECDSA), PrivateKey(), ""), CKR_KEY_TYPE_INCONSISTENT));
  EXPECT_TRUE(HasRv(NewSignOperation(Params(CKM_SHA256_HMAC), PrivateKey(), "k"),
                    CKR_KEY_TYPE_INCONSISTENT));
  EXPECT_TRUE(
      HasRv(NewSignOperation(Params(CKM_RSA_PKCS), nullptr, "k"), CKR_KEY_TYPE_INCONSISTENT));
  EXPECT_TRUE(
      HasRv(NewSignOperation(Params(CKM_RSA_PKCS_OAEP), PrivateKey(), ""), CKR_MECHANISM_INVALID));
}

TEST_F(RsaTest, KeySizeOutsideTheMechanismRange) {
  EvpPkeyPtr small = AdoptPkey(EVP_RSA_gen(512));
  ASSERT_NE(small, nullptr);
  EXPECT_TRUE(HasRv(NewSignOperation(Params(CKM_SHA256_RSA_PKCS), small, ""), CKR_KEY_SIZE_RANGE));
  EXPECT_TRUE(HasRv(GenerateRsaKeyPair(512, ""), CKR_KEY_SIZE_RANGE));
  EXPECT_TRUE(HasRv(GenerateRsaKeyPair(16384, ""), CKR_KEY_SIZE_RANGE));
  EXPECT_TRUE(HasRv(GenerateRsaKeyPair(2048, Hex("010000")), CKR_ATTRIBUTE_VALUE_INVALID));
}

TEST_F(RsaTest, SignAndVerifyRecover) {
  std::string data = "recover me";
  auto signature = SignRecover(Params(CKM_RSA_PKCS), PrivateKey(), data);
  ASSERT_TRUE(signature.ok()) << signature.status();
  auto recovered = VerifyRecover(Params(CKM_RSA_PKCS), PublicKey(), *signature);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(*recovered, data);

  auto raw = SignRecover(Params(CKM_RSA_X_509), PrivateKey(), data);
  ASSERT_TRUE(raw.ok());
  auto raw_recovered = VerifyRecover(Params(CKM_RSA_X_509), PublicKey(), *raw);
  ASSERT_TRUE(raw_recovered.ok());
  EXPECT_EQ(*raw_recovered, std::string(kModulusBytes - data.size(), '\0') + data);

  std::string tampered = *signature;
  tampered[0] ^= 0x01;
  EXPECT_TRUE(
      HasRv(VerifyRecover(Params(CKM_RSA_PKCS), PublicKey(), tampered), CKR_SIGNATURE_INVALID));
  EXPECT_TRUE(
      HasRv(VerifyRecover(Params(CKM_RSA_PKCS), PublicKey(), "x"), CKR_SIGNATURE_LEN_RANGE));
  EXPECT_TRUE(
      HasRv(SignRecover(Params(CKM_SHA256_RSA_PKCS), PrivateKey(), data), CKR_MECHANISM_INVALID));
}

std::string Encrypt(const MechanismParams& params, const EvpPkeyPtr& key,
                    const std::string& plain) {
  auto op = NewEncryptOperation(params, key, "");
  EXPECT_TRUE(op.ok()) << op.status();
  if (!op.ok()) return "";
  EXPECT_EQ((*op)->MaxOutputLength(plain.size()), kModulusBytes);
  auto out = (*op)->Once(plain);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "";
}

absl::StatusOr<std::string> Decrypt(const MechanismParams& params, const EvpPkeyPtr& key,
                                    const std::string& cipher) {
  auto op = NewDecryptOperation(params, key, "");
  if (!op.ok()) return op.status();
  return (*op)->Once(cipher);
}

MechanismParams OaepParams(const std::string& label) {
  MechanismParams params = Params(CKM_RSA_PKCS_OAEP);
  params.oaep = MechanismParams::Oaep{CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, label};
  return params;
}

TEST_F(RsaTest, EncryptionRoundTrips) {
  std::string plain = "a secret of some length";
  std::string pkcs = Encrypt(Params(CKM_RSA_PKCS), PublicKey(), plain);
  EXPECT_EQ(*Decrypt(Params(CKM_RSA_PKCS), PrivateKey(), pkcs), plain);

  std::string oaep = Encrypt(OaepParams("my label"), PublicKey(), plain);
  EXPECT_EQ(*Decrypt(OaepParams("my label"), PrivateKey(), oaep), plain);
  EXPECT_TRUE(
      HasRv(Decrypt(OaepParams("other label"), PrivateKey(), oaep), CKR_ENCRYPTED_DATA_INVALID));

  std::string x509 = Encrypt(Params(CKM_RSA_X_509), PublicKey(), plain);
  EXPECT_EQ(*Decrypt(Params(CKM_RSA_X_509), PrivateKey(), x509),
            std::string(kModulusBytes - plain.size(), '\0') + plain);
}

TEST_F(RsaTest, EncryptionErrors) {
  auto pkcs = NewEncryptOperation(Params(CKM_RSA_PKCS), PublicKey(), "");
  ASSERT_TRUE(pkcs.ok());
  EXPECT_TRUE(HasRv((*pkcs)->Once(std::string(kModulusBytes - 10, 'a')), CKR_DATA_LEN_RANGE));
  EXPECT_TRUE(HasRv((*pkcs)->Update("a"), CKR_FUNCTION_NOT_SUPPORTED));
  auto oaep = NewEncryptOperation(OaepParams(""), PublicKey(), "");
  ASSERT_TRUE(oaep.ok());
  EXPECT_TRUE((*oaep)->Once(std::string(kModulusBytes - 66, 'a')).ok());
  EXPECT_TRUE(HasRv((*oaep)->Once(std::string(kModulusBytes - 65, 'a')), CKR_DATA_LEN_RANGE));
  auto x509 = NewEncryptOperation(Params(CKM_RSA_X_509), PublicKey(), "");
  ASSERT_TRUE(x509.ok());
  EXPECT_TRUE(HasRv((*x509)->Once(std::string(kModulusBytes, '\xff')), CKR_DATA_INVALID));

  EXPECT_TRUE(
      HasRv(Decrypt(Params(CKM_RSA_PKCS), PrivateKey(), "short"), CKR_ENCRYPTED_DATA_LEN_RANGE));
  EXPECT_TRUE(HasRv(Decrypt(Params(CKM_RSA_PKCS), PublicKey(), std::string(kModulusBytes, 'a')),
                    CKR_KEY_TYPE_INCONSISTENT));
  EXPECT_TRUE(HasRv(NewEncryptOperation(Params(CKM_RSA_PKCS_OAEP), PublicKey(), ""),
                    CKR_MECHANISM_PARAM_INVALID));
  MechanismParams bad_source = OaepParams("label");
  bad_source.oaep->source = 0;
  EXPECT_TRUE(HasRv(NewEncryptOperation(bad_source, PublicKey(), ""), CKR_MECHANISM_PARAM_INVALID));
}

TEST_F(RsaTest, WrapsSecretKeys) {
  std::string secret = *GenerateSecretKey(CKK_AES, 32);
  for (const MechanismParams& params : {Params(CKM_RSA_PKCS), OaepParams("wrap")}) {
    auto wrapped = WrapKey(params, PublicKey(), "", secret);
    ASSERT_TRUE(wrapped.ok()) << wrapped.status();
    auto unwrapped = UnwrapKey(params, PrivateKey(), "", *wrapped, 32);
    ASSERT_TRUE(unwrapped.ok()) << unwrapped.status();
    EXPECT_EQ(*unwrapped, secret);
  }
  auto raw = WrapKey(Params(CKM_RSA_X_509), PublicKey(), "", secret);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*UnwrapKey(Params(CKM_RSA_X_509), PrivateKey(), "", *raw, 32), secret);
  EXPECT_TRUE(HasRv(WrapKey(Params(CKM_RSA_PKCS), PublicKey(), "", std::string(300, 'k')),
                    CKR_KEY_SIZE_RANGE));
  EXPECT_TRUE(
      HasRv(UnwrapKey(Params(CKM_RSA_PKCS), PrivateKey(), "", std::string(kModulusBytes, 'a'), 0),
            CKR_WRAPPED_KEY_INVALID));
}

}  // namespace
}  // namespace hsm::server::crypto
