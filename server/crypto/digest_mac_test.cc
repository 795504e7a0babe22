// Digests (FIPS 180 examples, RFC 1321), HMAC (RFC 4231, RFC 2202) and
// AES-CMAC (RFC 4493) against their published vectors.
#include <gtest/gtest.h>

#include <string>

#include "server/crypto/mechanism_table.h"
#include "server/crypto/operation.h"
#include "server/crypto/test_util.h"

namespace hsm::server::crypto {
namespace {

using testing::HasRv;
using testing::Hex;
using testing::ToHex;

constexpr char k448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
constexpr char k896[] =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopq"
    "rs"
    "mnopqrstnopqrstu";

struct DigestVector {
  CK_MECHANISM_TYPE mechanism;
  std::string message;
  std::string digest_hex;
};

class DigestTest : public ::testing::TestWithParam<DigestVector> {};

TEST_P(DigestTest, SinglePartAndMultiPartMatchTheVector) {
  const DigestVector& v = GetParam();
  MechanismParams params;
  params.type = v.mechanism;
  auto once = NewDigestOperation(params);
  ASSERT_TRUE(once.ok()) << once.status();
  EXPECT_EQ((*once)->DigestLength(), v.digest_hex.size() / 2);
  auto digest = (*once)->Once(v.message);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(ToHex(*digest), v.digest_hex);

  // The same message in uneven pieces.
  auto multi = NewDigestOperation(params);
  ASSERT_TRUE(multi.ok());
  for (size_t i = 0; i < v.message.size(); i += 7) {
    ASSERT_TRUE((*multi)->Update(std::string_view(v.message).substr(i, 7)).ok());
  }
  auto final_digest = (*multi)->Final();
  ASSERT_TRUE(final_digest.ok());
  EXPECT_EQ(ToHex(*final_digest), v.digest_hex);
}

INSTANTIATE_TEST_SUITE_P(
    Fips180AndRfc1321, DigestTest,
    ::testing::Values(
        DigestVector{CKM_SHA_1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        DigestVector{CKM_SHA_1, k448, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        DigestVector{CKM_SHA224, "abc", "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"},
        DigestVector{CKM_SHA224, k448, "75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525"},
        DigestVector{CKM_SHA256, "abc",
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        DigestVector{CKM_SHA256, k448,
                     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        DigestVector{CKM_SHA384, "abc",
                     "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
                     "8086072ba1e7cc2358baeca134c825a7"},
        DigestVector{CKM_SHA384, k448,
                     "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6"
                     "b0455a8520bc4e6f5fe95b1fe3c8452b"},
        DigestVector{CKM_SHA384, k896,
                     "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712"
                     "fcc7c71a557e2db966c3e9fa91746039"},
        DigestVector{CKM_SHA512, "abc",
                     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
        DigestVector{CKM_SHA512, k448,
                     "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
                     "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445"},
        DigestVector{CKM_SHA512, k896,
                     "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
                     "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"},
        DigestVector{CKM_MD5, "", "d41d8cd98f00b204e9800998ecf8427e"},
        DigestVector{CKM_MD5, "a", "0cc175b9c0f1b6a831c399e269772661"},
        DigestVector{CKM_MD5, "abc", "900150983cd24fb0d6963f7d28e17f72"},
        DigestVector{CKM_MD5, "message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        DigestVector{CKM_MD5, "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        DigestVector{CKM_MD5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                     "d174ab98d277d9f5a5611c2c9f419d9f"},
        DigestVector{CKM_MD5,
                     "1234567890123456789012345678901234567890123456789012345678901234567890"
                     "1234567890",
                     "57edf4a22be3c955ac49da2e2107b67a"}));

TEST(DigestTest, RejectsNonDigestMechanisms) {
  MechanismParams params;
  params.type = CKM_SHA256_HMAC;
  EXPECT_TRUE(HasRv(NewDigestOperation(params), CKR_MECHANISM_INVALID));
}

struct MacVector {
  const char* name;
  CK_MECHANISM_TYPE mechanism;
  std::string key;
  std::string data;
  std::string mac_hex;
};

class MacTest : public ::testing::TestWithParam<MacVector> {};

TEST_P(MacTest, SignMatchesAndVerifies) {
  const MacVector& v = GetParam();
  MechanismParams params;
  params.type = v.mechanism;
  auto sign = NewSignOperation(params, nullptr, v.key);
  ASSERT_TRUE(sign.ok()) << sign.status();
  EXPECT_EQ((*sign)->SignatureLength(), v.mac_hex.size() / 2);
  auto mac = (*sign)->SignOnce(v.data);
  ASSERT_TRUE(mac.ok()) << mac.status();
  EXPECT_EQ(ToHex(*mac), v.mac_hex);

  auto multi = NewSignOperation(params, nullptr, v.key);
  ASSERT_TRUE(multi.ok());
  for (size_t i = 0; i < v.data.size(); i += 5) {
    ASSERT_TRUE((*multi)->Update(std::string_view(v.data).substr(i, 5)).ok());
  }
  auto multi_mac = (*multi)->Final();
  ASSERT_TRUE(multi_mac.ok());
  EXPECT_EQ(ToHex(*multi_mac), v.mac_hex);

  auto verify = NewVerifyOperation(params, nullptr, v.key);
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE((*verify)->VerifyOnce(v.data, Hex(v.mac_hex)).ok());

  std::string tampered = Hex(v.mac_hex);
  tampered[0] ^= 1;
  auto verify_bad = NewVerifyOperation(params, nullptr, v.key);
  ASSERT_TRUE(verify_bad.ok());
  EXPECT_TRUE(HasRv((*verify_bad)->VerifyOnce(v.data, tampered), CKR_SIGNATURE_INVALID));

  auto verify_short = NewVerifyOperation(params, nullptr, v.key);
  ASSERT_TRUE(verify_short.ok());
  EXPECT_TRUE(
      HasRv((*verify_short)->VerifyOnce(v.data, tampered.substr(1)), CKR_SIGNATURE_LEN_RANGE));
}

const std::string kKey0b = std::string(20, '\x0b');
const std::string kKeyAa131 = std::string(131, '\xaa');
constexpr char kLargeKeyData[] = "Test Using Larger Than Block-Size Key - Hash Key First";
constexpr char kLargeKeyAndData[] =
    "This is a test using a larger than block-size key and a larger than block-size data. The key "
    "needs to be hashed before being used by the HMAC algorithm.";
const std::string kCmacKey = Hex("2b7e151628aed2a6abf7158809cf4f3c");
const std::string kCmacMessage =
    Hex("6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710");

INSTANTIATE_TEST_SUITE_P(
    Rfc4231Rfc2202Rfc4493, MacTest,
    ::testing::Values(
        MacVector{"Rfc2202Case1Sha1", CKM_SHA_1_HMAC, kKey0b, "Hi There",
                  "b617318655057264e28bc0b6fb378c8ef146be00"},
        MacVector{"Case1Sha224", CKM_SHA224_HMAC, kKey0b, "Hi There",
                  "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22"},
        MacVector{"Case1Sha256", CKM_SHA256_HMAC, kKey0b, "Hi There",
                  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        MacVector{"Case1Sha384", CKM_SHA384_HMAC, kKey0b, "Hi There",
                  "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
                  "faea9ea9076ede7f4af152e8b2fa9cb6"},
        MacVector{"Case1Sha512", CKM_SHA512_HMAC, kKey0b, "Hi There",
                  "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
                  "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
        MacVector{"Case2Sha224", CKM_SHA224_HMAC, "Jefe", "what do ya want for nothing?",
                  "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44"},
        MacVector{"Case2Sha256", CKM_SHA256_HMAC, "Jefe", "what do ya want for nothing?",
                  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        MacVector{"Case2Sha384", CKM_SHA384_HMAC, "Jefe", "what do ya want for nothing?",
                  "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
                  "8e2240ca5e69e2c78b3239ecfab21649"},
        MacVector{"Case2Sha512", CKM_SHA512_HMAC, "Jefe", "what do ya want for nothing?",
                  "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                  "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
        MacVector{"Case6Sha224", CKM_SHA224_HMAC, kKeyAa131, kLargeKeyData,
                  "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e"},
        MacVector{"Case6Sha256", CKM_SHA256_HMAC, kKeyAa131, kLargeKeyData,
                  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        MacVector{"Case6Sha384", CKM_SHA384_HMAC, kKeyAa131, kLargeKeyData,
                  "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
                  "0c2ef6ab4030fe8296248df163f44952"},
        MacVector{"Case6Sha512", CKM_SHA512_HMAC, kKeyAa131, kLargeKeyData,
                  "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
                  "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
        MacVector{"Case7Sha256", CKM_SHA256_HMAC, kKeyAa131, kLargeKeyAndData,
                  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
        MacVector{"CmacExample1", CKM_AES_CMAC, kCmacKey, "", "bb1d6929e95937287fa37d129b756746"},
        MacVector{"CmacExample2", CKM_AES_CMAC, kCmacKey, kCmacMessage.substr(0, 16),
                  "070a16b46b4d4144f79bdd9dd04a287c"},
        MacVector{"CmacExample3", CKM_AES_CMAC, kCmacKey, kCmacMessage.substr(0, 40),
                  "dfa66747de9ae63030ca32611497c827"},
        MacVector{"CmacExample4", CKM_AES_CMAC, kCmacKey, kCmacMessage,
                  "51f0bebf7e3b9d92fc49741779363cfe"}),
    [](const ::testing::TestParamInfo<MacVector>& info) { return std::string(info.param.name); });

TEST(MacTest, KeyChecks) {
  MechanismParams params;
  params.type = CKM_SHA256_HMAC;
  EXPECT_TRUE(HasRv(NewSignOperation(params, nullptr, ""), CKR_KEY_SIZE_RANGE));
  params.type = CKM_AES_CMAC;
  EXPECT_TRUE(HasRv(NewSignOperation(params, nullptr, std::string(15, 'k')), CKR_KEY_SIZE_RANGE));
  EXPECT_TRUE(CheckKeyTypeForMechanism(CKM_SHA256_HMAC, CKK_GENERIC_SECRET).ok());
  EXPECT_TRUE(CheckKeyTypeForMechanism(CKM_SHA256_HMAC, CKK_SHA256_HMAC).ok());
  EXPECT_TRUE(
      HasRv(CheckKeyTypeForMechanism(CKM_SHA256_HMAC, CKK_SHA384_HMAC), CKR_KEY_TYPE_INCONSISTENT));
  EXPECT_TRUE(HasRv(CheckKeyTypeForMechanism(CKM_AES_CMAC, CKK_DES3), CKR_KEY_TYPE_INCONSISTENT));
}

}  // namespace
}  // namespace hsm::server::crypto
