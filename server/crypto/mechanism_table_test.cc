// The mechanism table lists exactly the required mechanisms, sorted, and is
// truthful: every flag it sets is backed by a working operation, and every
// function it leaves out refuses the mechanism with CKR_MECHANISM_INVALID.
#include "server/crypto/mechanism_table.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "server/crypto/key_material.h"
#include "server/crypto/operation.h"
#include "server/crypto/test_util.h"

namespace hsm::server::crypto {
namespace {

using testing::HasRv;
using testing::Hex;

const std::set<CK_MECHANISM_TYPE> kRequired = {
    CKM_RSA_PKCS_KEY_PAIR_GEN,
    CKM_RSA_PKCS,
    CKM_RSA_X_509,
    CKM_RSA_PKCS_PSS,
    CKM_RSA_PKCS_OAEP,
    CKM_SHA1_RSA_PKCS,
    CKM_SHA224_RSA_PKCS,
    CKM_SHA256_RSA_PKCS,
    CKM_SHA384_RSA_PKCS,
    CKM_SHA512_RSA_PKCS,
    CKM_SHA1_RSA_PKCS_PSS,
    CKM_SHA224_RSA_PKCS_PSS,
    CKM_SHA256_RSA_PKCS_PSS,
    CKM_SHA384_RSA_PKCS_PSS,
    CKM_SHA512_RSA_PKCS_PSS,
    CKM_EC_KEY_PAIR_GEN,
    CKM_ECDSA,
    CKM_ECDSA_SHA1,
    CKM_ECDSA_SHA224,
    CKM_ECDSA_SHA256,
    CKM_ECDSA_SHA384,
    CKM_ECDSA_SHA512,
    CKM_ECDH1_DERIVE,
    CKM_EC_EDWARDS_KEY_PAIR_GEN,
    CKM_EDDSA,
    CKM_AES_KEY_GEN,
    CKM_AES_ECB,
    CKM_AES_CBC,
    CKM_AES_CBC_PAD,
    CKM_AES_CTR,
    CKM_AES_GCM,
    CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_PAD,
    CKM_AES_CMAC,
    CKM_DES3_KEY_GEN,
    CKM_DES3_ECB,
    CKM_DES3_CBC,
    CKM_DES3_CBC_PAD,
    CKM_SHA_1,
    CKM_SHA224,
    CKM_SHA256,
    CKM_SHA384,
    CKM_SHA512,
    CKM_MD5,
    CKM_SHA_1_HMAC,
    CKM_SHA224_HMAC,
    CKM_SHA256_HMAC,
    CKM_SHA384_HMAC,
    CKM_SHA512_HMAC,
    CKM_GENERIC_SECRET_KEY_GEN,
};

TEST(MechanismTableTest, ExactlyTheRequiredMechanismsSorted) {
  const std::vector<MechanismInfo>& mechanisms = Mechanisms();
  std::set<CK_MECHANISM_TYPE> listed;
  for (size_t i = 0; i < mechanisms.size(); ++i) {
    listed.insert(mechanisms[i].type);
    if (i > 0) {
      EXPECT_LT(mechanisms[i - 1].type, mechanisms[i].type);
    }
    const MechanismInfo* found = FindMechanism(mechanisms[i].type);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->flags, mechanisms[i].flags);
    EXPECT_LE(found->min_key_size, found->max_key_size);
    EXPECT_EQ(found->flags & CKF_HW, 0u);
  }
  EXPECT_EQ(listed, kRequired);
  EXPECT_EQ(FindMechanism(CKM_DES_ECB), nullptr);
  EXPECT_EQ(FindMechanism(CKM_RSA_PKCS)->min_key_size, 1024u);
  EXPECT_EQ(FindMechanism(CKM_RSA_PKCS)->max_key_size, 8192u);
  EXPECT_EQ(FindMechanism(CKM_ECDSA)->max_key_size, 521u);
  EXPECT_EQ(FindMechanism(CKM_AES_GCM)->max_key_size, 32u);
  EXPECT_NE(FindMechanism(CKM_ECDSA)->flags & CKF_EC_NAMEDCURVE, 0u);
}

TEST(MechanismTableTest, KeyTypes) {
  EXPECT_TRUE(CheckKeyTypeForMechanism(CKM_AES_GCM, CKK_AES).ok());
  EXPECT_TRUE(CheckKeyTypeForMechanism(CKM_DES3_CBC, CKK_DES3).ok());
  EXPECT_TRUE(CheckKeyTypeForMechanism(CKM_SHA256_RSA_PKCS, CKK_RSA).ok());
  EXPECT_TRUE(CheckKeyTypeForMechanism(CKM_ECDH1_DERIVE, CKK_EC).ok());
  EXPECT_TRUE(CheckKeyTypeForMechanism(CKM_EDDSA, CKK_EC_EDWARDS).ok());
  EXPECT_TRUE(HasRv(CheckKeyTypeForMechanism(CKM_AES_GCM, CKK_DES3), CKR_KEY_TYPE_INCONSISTENT));
  EXPECT_TRUE(
      HasRv(CheckKeyTypeForMechanism(CKM_ECDSA, CKK_EC_EDWARDS), CKR_KEY_TYPE_INCONSISTENT));
  EXPECT_TRUE(HasRv(CheckKeyTypeForMechanism(CKM_SHA256, CKK_AES), CKR_KEY_TYPE_INCONSISTENT));
  EXPECT_TRUE(HasRv(CheckKeyTypeForMechanism(CKM_DES_ECB, CKK_DES), CKR_MECHANISM_INVALID));
}

// A key and parameters good for `type`.
struct MechanismSetup {
  MechanismParams params;
  EvpPkeyPtr key;
  std::string secret;
};

class TruthfulnessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new GeneratedKeyPair(*GenerateRsaKeyPair(2048, ""));
    ec_ = new GeneratedKeyPair(*GenerateEcKeyPair(Hex("06082a8648ce3d030107")));
    ed_ = new GeneratedKeyPair(*GenerateEdwardsKeyPair(Hex("06032b6570")));
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete ec_;
    delete ed_;
  }

  static MechanismSetup SetupFor(CK_MECHANISM_TYPE type) {
    MechanismSetup s;
    s.params.type = type;
    switch (CheckKeyTypeForMechanism(type, CKK_RSA).ok()          ? CKK_RSA
            : CheckKeyTypeForMechanism(type, CKK_EC).ok()         ? CKK_EC
            : CheckKeyTypeForMechanism(type, CKK_EC_EDWARDS).ok() ? CKK_EC_EDWARDS
            : CheckKeyTypeForMechanism(type, CKK_AES).ok()        ? CKK_AES
            : CheckKeyTypeForMechanism(type, CKK_DES3).ok()       ? CKK_DES3
                                                                  : CKK_GENERIC_SECRET) {
      case CKK_RSA:
        s.key = rsa_->key;
        break;
      case CKK_EC:
        s.key = ec_->key;
        break;
      case CKK_EC_EDWARDS:
        s.key = ed_->key;
        break;
      case CKK_AES:
        s.secret = std::string(16, 'a');
        break;
      case CKK_DES3:
        s.secret = std::string(24, 'd');
        break;
      default:
        s.secret = std::string(32, 'h');
    }
    s.params.iv = std::string(type == CKM_DES3_CBC || type == CKM_DES3_CBC_PAD ? 8 : 16, '\0');
    if (type == CKM_AES_KEY_WRAP || type == CKM_AES_KEY_WRAP_PAD || type == CKM_AES_ECB ||
        type == CKM_DES3_ECB) {
      s.params.iv.clear();
    }
    CK_MECHANISM_TYPE hash = CKM_SHA256;
    CK_RSA_PKCS_MGF_TYPE mgf = CKG_MGF1_SHA256;
    if (type == CKM_SHA1_RSA_PKCS_PSS) hash = CKM_SHA_1;
    if (type == CKM_SHA224_RSA_PKCS_PSS) hash = CKM_SHA224;
    if (type == CKM_SHA384_RSA_PKCS_PSS) hash = CKM_SHA384;
    if (type == CKM_SHA512_RSA_PKCS_PSS) hash = CKM_SHA512;
    s.params.pss = MechanismParams::Pss{hash, mgf, 20};
    s.params.oaep = MechanismParams::Oaep{CKM_SHA256, mgf, CKZ_DATA_SPECIFIED, ""};
    s.params.gcm = MechanismParams::Gcm{std::string(12, '\0'), 96, "", 128};
    s.params.ctr = MechanismParams::Ctr{32, std::string(16, '\0')};
    s.params.ecdh = MechanismParams::Ecdh{CKD_NULL, "", ec_->public_attributes.at(CKA_EC_POINT)};
    return s;
  }

  static GeneratedKeyPair* rsa_;
  static GeneratedKeyPair* ec_;
  static GeneratedKeyPair* ed_;
};
GeneratedKeyPair* TruthfulnessTest::rsa_ = nullptr;
GeneratedKeyPair* TruthfulnessTest::ec_ = nullptr;
GeneratedKeyPair* TruthfulnessTest::ed_ = nullptr;

// OK, or a failure that is not CKR_MECHANISM_INVALID when `expected` says the
// function is offered; CKR_MECHANISM_INVALID when it is not.
void ExpectOffered(const absl::Status& status, bool expected, const char* function,
                   CK_MECHANISM_TYPE type) {
  if (expected) {
    EXPECT_TRUE(status.ok()) << function << " 0x" << std::hex << type << ": " << status;
  } else {
    EXPECT_TRUE(HasRv(status, CKR_MECHANISM_INVALID)) << function << " 0x" << std::hex << type;
  }
}

TEST_F(TruthfulnessTest, FlagsMatchWhatTheFactoriesAccept) {
  for (const MechanismInfo& info : Mechanisms()) {
    MechanismSetup s = SetupFor(info.type);
    // A public key suffices for verify, encrypt and wrap; the private one
    // also works, so the private key is used throughout.
    ExpectOffered(NewSignOperation(s.params, s.key, s.secret).status(), info.flags & CKF_SIGN,
                  "sign", info.type);
    ExpectOffered(NewVerifyOperation(s.params, s.key, s.secret).status(), info.flags & CKF_VERIFY,
                  "verify", info.type);
    ExpectOffered(NewEncryptOperation(s.params, s.key, s.secret).status(), info.flags & CKF_ENCRYPT,
                  "encrypt", info.type);
    ExpectOffered(NewDecryptOperation(s.params, s.key, s.secret).status(), info.flags & CKF_DECRYPT,
                  "decrypt", info.type);
    ExpectOffered(NewDigestOperation(s.params).status(), info.flags & CKF_DIGEST, "digest",
                  info.type);
    ExpectOffered(SignRecover(s.params, s.key, "data").status(), info.flags & CKF_SIGN_RECOVER,
                  "sign recover", info.type);
    absl::StatusOr<std::string> wrapped = WrapKey(s.params, s.key, s.secret, std::string(16, 'k'));
    ExpectOffered(wrapped.status(), info.flags & CKF_WRAP, "wrap", info.type);
    if (wrapped.ok()) {
      ExpectOffered(UnwrapKey(s.params, s.key, s.secret, *wrapped, 16).status(),
                    info.flags & CKF_UNWRAP, "unwrap", info.type);
    } else {
      ExpectOffered(UnwrapKey(s.params, s.key, s.secret, std::string(24, 'w'), 0).status(), false,
                    "unwrap", info.type);
    }
    ExpectOffered(DeriveEcdh(s.params, s.key, 0).status(), info.flags & CKF_DERIVE, "derive",
                  info.type);
  }
}

}  // namespace
}  // namespace hsm::server::crypto
