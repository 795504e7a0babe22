// AES modes against NIST SP 800-38A (ECB, CBC, CTR) and the McGrew-Viega GCM
// test cases, plus PKCS #11 length and padding rules.
#include <gtest/gtest.h>

#include <string>

#include "server/crypto/operation.h"
#include "server/crypto/test_util.h"

namespace hsm::server::crypto {
namespace {

using testing::HasRv;
using testing::Hex;
using testing::ToHex;

const std::string kKey = Hex("2b7e151628aed2a6abf7158809cf4f3c");
const std::string kPlain =
    Hex("6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710");

MechanismParams Params(CK_MECHANISM_TYPE type, std::string iv = "") {
  MechanismParams params;
  params.type = type;
  params.iv = std::move(iv);
  return params;
}

std::string EncryptOnce(const MechanismParams& params, const std::string& key,
                        const std::string& in) {
  auto op = NewEncryptOperation(params, nullptr, key);
  EXPECT_TRUE(op.ok()) << op.status();
  if (!op.ok()) return "";
  EXPECT_GE((*op)->MaxOutputLength(in.size()), in.size());
  auto out = (*op)->Once(in);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "";
}

std::string DecryptOnce(const MechanismParams& params, const std::string& key,
                        const std::string& in) {
  auto op = NewDecryptOperation(params, nullptr, key);
  EXPECT_TRUE(op.ok()) << op.status();
  if (!op.ok()) return "";
  auto out = (*op)->Once(in);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "";
}

// Feeds `in` in `piece`-byte Updates, checking each against MaxOutputLength.
std::string RunMultiPart(CipherOperation& op, const std::string& in, size_t piece) {
  std::string out;
  for (size_t i = 0; i < in.size(); i += piece) {
    std::string_view part = std::string_view(in).substr(i, piece);
    size_t bound = op.MaxOutputLength(part.size());
    auto chunk = op.Update(part);
    EXPECT_TRUE(chunk.ok()) << chunk.status();
    if (!chunk.ok()) return "";
    EXPECT_LE(chunk->size(), bound);
    out += *chunk;
  }
  size_t bound = op.MaxOutputLength(0);
  auto last = op.Final();
  EXPECT_TRUE(last.ok()) << last.status();
  if (!last.ok()) return "";
  EXPECT_LE(last->size(), bound);
  return out + *last;
}

TEST(AesTest, EcbSp800_38aF11) {
  std::string cipher =
      Hex("3ad77bb40d7a3660a89ecaf32466ef97 f5d3d58503b9699de785895a96fdbaaf"
          "43b1cd7f598ece23881b00e3ed030688 7b0c785e27e8ad3f8223207104725dd4");
  EXPECT_EQ(ToHex(EncryptOnce(Params(CKM_AES_ECB), kKey, kPlain)), ToHex(cipher));
  EXPECT_EQ(ToHex(DecryptOnce(Params(CKM_AES_ECB), kKey, cipher)), ToHex(kPlain));
}

TEST(AesTest, CbcSp800_38aF21AndF22) {
  std::string iv = Hex("000102030405060708090a0b0c0d0e0f");
  std::string cipher =
      Hex("7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2"
          "73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7");
  EXPECT_EQ(ToHex(EncryptOnce(Params(CKM_AES_CBC, iv), kKey, kPlain)), ToHex(cipher));
  EXPECT_EQ(ToHex(DecryptOnce(Params(CKM_AES_CBC, iv), kKey, cipher)), ToHex(kPlain));

  // Multi-part in pieces that do not line up with blocks.
  for (size_t piece : {1, 5, 16, 17, 64}) {
    auto enc = NewEncryptOperation(Params(CKM_AES_CBC, iv), nullptr, kKey);
    ASSERT_TRUE(enc.ok());
    EXPECT_EQ(ToHex(RunMultiPart(**enc, kPlain, piece)), ToHex(cipher)) << piece;
    auto dec = NewDecryptOperation(Params(CKM_AES_CBC, iv), nullptr, kKey);
    ASSERT_TRUE(dec.ok());
    EXPECT_EQ(ToHex(RunMultiPart(**dec, cipher, piece)), ToHex(kPlain)) << piece;
  }
}

TEST(AesTest, CtrSp800_38aF51) {
  MechanismParams params = Params(CKM_AES_CTR);
  params.ctr = MechanismParams::Ctr{128, Hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")};
  std::string cipher =
      Hex("874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff"
          "5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee");
  EXPECT_EQ(ToHex(EncryptOnce(params, kKey, kPlain)), ToHex(cipher));
  EXPECT_EQ(ToHex(DecryptOnce(params, kKey, cipher)), ToHex(kPlain));
  auto enc = NewEncryptOperation(params, nullptr, kKey);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(ToHex(RunMultiPart(**enc, kPlain, 7)), ToHex(cipher));
}

TEST(AesTest, CtrRefusesToWrapTheCounter) {
  MechanismParams params = Params(CKM_AES_CTR);
  // An 8-bit counter at 0xfe leaves two blocks.
  params.ctr = MechanismParams::Ctr{8, Hex("000102030405060708090a0b0c0d0efe")};
  auto op = NewEncryptOperation(params, nullptr, kKey);
  ASSERT_TRUE(op.ok());
  EXPECT_TRUE((*op)->Update(std::string(32, 'x')).ok());
  EXPECT_TRUE(HasRv((*op)->Update("x"), CKR_DATA_LEN_RANGE));

  params.ctr = MechanismParams::Ctr{0, std::string(16, '\0')};
  EXPECT_TRUE(HasRv(NewEncryptOperation(params, nullptr, kKey), CKR_MECHANISM_PARAM_INVALID));
}

TEST(AesTest, CbcPadRoundTripsEveryLength) {
  std::string iv(16, '\x42');
  for (size_t length = 0; length <= 48; ++length) {
    std::string plain = kPlain.substr(0, length);
    std::string cipher = EncryptOnce(Params(CKM_AES_CBC_PAD, iv), kKey, plain);
    EXPECT_EQ(cipher.size(), (length / 16 + 1) * 16);
    EXPECT_EQ(DecryptOnce(Params(CKM_AES_CBC_PAD, iv), kKey, cipher), plain);
    auto dec = NewDecryptOperation(Params(CKM_AES_CBC_PAD, iv), nullptr, kKey);
    ASSERT_TRUE(dec.ok());
    EXPECT_EQ(RunMultiPart(**dec, cipher, 5), plain);
  }
}

TEST(AesTest, LengthAndPaddingErrors) {
  std::string iv(16, '\0');
  auto enc = NewEncryptOperation(Params(CKM_AES_CBC, iv), nullptr, kKey);
  ASSERT_TRUE(enc.ok());
  EXPECT_TRUE(HasRv((*enc)->Once(std::string(17, 'a')), CKR_DATA_LEN_RANGE));

  auto enc_multi = NewEncryptOperation(Params(CKM_AES_ECB), nullptr, kKey);
  ASSERT_TRUE(enc_multi.ok());
  ASSERT_TRUE((*enc_multi)->Update(std::string(20, 'a')).ok());
  EXPECT_TRUE(HasRv((*enc_multi)->Final(), CKR_DATA_LEN_RANGE));

  auto dec = NewDecryptOperation(Params(CKM_AES_CBC_PAD, iv), nullptr, kKey);
  ASSERT_TRUE(dec.ok());
  EXPECT_TRUE(HasRv((*dec)->Once(std::string(15, 'a')), CKR_ENCRYPTED_DATA_LEN_RANGE));

  // A final block whose padding is not valid. The plaintext block of all
  // zeros ends in a 0x00 pad byte, which no PKCS #7 padding has.
  std::string zeros_block = EncryptOnce(Params(CKM_AES_CBC, iv), kKey, std::string(16, '\0'));
  auto bad = NewDecryptOperation(Params(CKM_AES_CBC_PAD, iv), nullptr, kKey);
  ASSERT_TRUE(bad.ok());
  EXPECT_TRUE(HasRv((*bad)->Once(zeros_block), CKR_ENCRYPTED_DATA_INVALID));

  EXPECT_TRUE(HasRv(NewEncryptOperation(Params(CKM_AES_CBC, "short"), nullptr, kKey),
                    CKR_MECHANISM_PARAM_INVALID));
  EXPECT_TRUE(HasRv(NewEncryptOperation(Params(CKM_AES_ECB), nullptr, std::string(20, 'k')),
                    CKR_KEY_SIZE_RANGE));
  EXPECT_TRUE(
      HasRv(NewEncryptOperation(Params(CKM_AES_CMAC), nullptr, kKey), CKR_MECHANISM_INVALID));
  EXPECT_TRUE(HasRv(NewEncryptOperation(Params(0x7fffffff), nullptr, kKey), CKR_MECHANISM_INVALID));
}

struct GcmVector {
  const char* name;
  std::string key, iv, aad, plain, cipher, tag;
};

class GcmTest : public ::testing::TestWithParam<GcmVector> {};

MechanismParams GcmParams(const GcmVector& v, CK_ULONG tag_bits = 128) {
  MechanismParams params;
  params.type = CKM_AES_GCM;
  params.gcm = MechanismParams::Gcm{v.iv, v.iv.size() * 8, v.aad, tag_bits};
  return params;
}

TEST_P(GcmTest, EncryptsAndDecryptsTheVector) {
  const GcmVector& v = GetParam();
  std::string expected = v.cipher + v.tag;
  EXPECT_EQ(ToHex(EncryptOnce(GcmParams(v), v.key, v.plain)), ToHex(expected));
  EXPECT_EQ(ToHex(DecryptOnce(GcmParams(v), v.key, expected)), ToHex(v.plain));

  auto enc = NewEncryptOperation(GcmParams(v), nullptr, v.key);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(ToHex(RunMultiPart(**enc, v.plain, 13)), ToHex(expected));
  auto dec = NewDecryptOperation(GcmParams(v), nullptr, v.key);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(ToHex(RunMultiPart(**dec, expected, 13)), ToHex(v.plain));

  // A shorter tag is a prefix of the full one.
  EXPECT_EQ(ToHex(EncryptOnce(GcmParams(v, 96), v.key, v.plain)),
            ToHex(v.cipher + v.tag.substr(0, 12)));

  std::string tampered = expected;
  tampered.back() ^= 1;
  auto bad = NewDecryptOperation(GcmParams(v), nullptr, v.key);
  ASSERT_TRUE(bad.ok());
  EXPECT_TRUE(HasRv((*bad)->Once(tampered), CKR_ENCRYPTED_DATA_INVALID));
}

const std::string kGcmKey = Hex("feffe9928665731c6d6a8f9467308308");
const std::string kGcmPlain =
    Hex("d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b391aafd255");
const std::string kGcmCipher =
    Hex("42831ec2217774244b7221b784d0d49c e3aa212f2c02a4e035c17e2329aca12e"
        "21d514b25466931c7d8f6a5aac84aa05 1ba30b396a0aac973d58e091473f5985");

INSTANTIATE_TEST_SUITE_P(
    McGrewViega, GcmTest,
    ::testing::Values(GcmVector{"Case1", std::string(16, '\0'), std::string(12, '\0'), "", "", "",
                                Hex("58e2fccefa7e3061367f1d57a4e7455a")},
                      GcmVector{"Case2", std::string(16, '\0'), std::string(12, '\0'), "",
                                std::string(16, '\0'), Hex("0388dace60b6a392f328c2b971b2fe78"),
                                Hex("ab6e47d42cec13bdf53a67b21257bddf")},
                      GcmVector{"Case3", kGcmKey, Hex("cafebabefacedbaddecaf888"), "", kGcmPlain,
                                kGcmCipher, Hex("4d5c2af327cd64a62cf35abd2ba6fab4")},
                      GcmVector{"Case4", kGcmKey, Hex("cafebabefacedbaddecaf888"),
                                Hex("feedfacedeadbeeffeedfacedeadbeefabaddad2"),
                                kGcmPlain.substr(0, 60), kGcmCipher.substr(0, 60),
                                Hex("5bc94fbc3221a5db94fae95ae7121a47")}),
    [](const ::testing::TestParamInfo<GcmVector>& info) { return std::string(info.param.name); });

TEST(GcmTest, ParameterChecks) {
  MechanismParams params;
  params.type = CKM_AES_GCM;
  EXPECT_TRUE(HasRv(NewEncryptOperation(params, nullptr, kKey), CKR_MECHANISM_PARAM_INVALID));
  params.gcm = MechanismParams::Gcm{std::string(12, '\0'), 96, "", 100};
  EXPECT_TRUE(HasRv(NewEncryptOperation(params, nullptr, kKey), CKR_MECHANISM_PARAM_INVALID));
  params.gcm = MechanismParams::Gcm{"", 0, "", 128};
  EXPECT_TRUE(HasRv(NewEncryptOperation(params, nullptr, kKey), CKR_MECHANISM_PARAM_INVALID));
  params.gcm = MechanismParams::Gcm{std::string(12, '\0'), 96, "", 128};
  auto dec = NewDecryptOperation(params, nullptr, kKey);
  ASSERT_TRUE(dec.ok());
  EXPECT_TRUE(HasRv((*dec)->Once("short"), CKR_ENCRYPTED_DATA_LEN_RANGE));
}

}  // namespace
}  // namespace hsm::server::crypto
