// Known-answer tests through the real library against a real hsmd: published
// vectors (FIPS 180, RFC 1321, RFC 4231, RFC 3394, RFC 5649, McGrew-Viega
// GCM, SP 800-38A), so a wrong answer cannot hide behind a matching wrong
// counterpart. Also the output-buffer rules of PKCS #11 2.40 section 5.2.
#include <vector>

#include "tests/integration/crypto_support.h"

namespace hsm::testing {
namespace {

using KatTest = CryptoTest;

const std::string kMessage448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const std::string kMessage896 =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

struct DigestVector {
  const char* name;
  CK_MECHANISM_TYPE mechanism;
  std::string message;
  const char* digest;
};

TEST_F(KatTest, DigestsMatchFips180AndRfc1321) {
  const std::vector<DigestVector> vectors = {
      {"MD5 abc (RFC 1321)", CKM_MD5, "abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"SHA-1 abc", CKM_SHA_1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
      {"SHA-224 abc", CKM_SHA224, "abc", "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"},
      {"SHA-256 abc", CKM_SHA256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"SHA-384 abc", CKM_SHA384, "abc",
       "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"},
      {"SHA-512 abc", CKM_SHA512, "abc",
       "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
       "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
      // The 448-bit message: two blocks for SHA-1/224/256.
      {"SHA-1 448-bit", CKM_SHA_1, kMessage448, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
      {"SHA-224 448-bit", CKM_SHA224, kMessage448, "75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525"},
      {"SHA-256 448-bit", CKM_SHA256, kMessage448,
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {"SHA-384 448-bit", CKM_SHA384, kMessage448,
       "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6b0455a8520bc4e6f5fe95b1fe3c8452b"},
      {"SHA-512 448-bit", CKM_SHA512, kMessage448,
       "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
       "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445"},
      // The 896-bit message: two blocks for SHA-384/512.
      {"SHA-384 896-bit", CKM_SHA384, kMessage896,
       "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039"},
      {"SHA-512 896-bit", CKM_SHA512, kMessage896,
       "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
       "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"},
  };
  for (const DigestVector& v : vectors) {
    SCOPED_TRACE(v.name);
    EXPECT_EQ(Hex(Digest(v.mechanism, v.message)), v.digest);
    // Multi-part, split inside the first block, gives the same digest.
    CK_MECHANISM mechanism = Mech(v.mechanism);
    ASSERT_THAT(f_->C_DigestInit(session_, &mechanism), RvIs(CKR_OK));
    const size_t cut = v.message.size() / 3;
    const std::string head = v.message.substr(0, cut), tail = v.message.substr(cut);
    ASSERT_THAT(f_->C_DigestUpdate(session_, In(head), head.size()), RvIs(CKR_OK));
    ASSERT_THAT(f_->C_DigestUpdate(session_, In(tail), tail.size()), RvIs(CKR_OK));
    std::string digest(64, '\0');
    CK_ULONG length = digest.size();
    ASSERT_THAT(f_->C_DigestFinal(session_, In(digest), &length), RvIs(CKR_OK));
    EXPECT_EQ(Hex(digest.substr(0, length)), v.digest);
  }
}

TEST_F(KatTest, DigestWorksWithoutLoginInAReadOnlySession) {
  CK_SESSION_HANDLE public_session = Open(CKF_SERIAL_SESSION);
  ASSERT_THAT(f_->C_Logout(session_), RvIs(CKR_OK));
  EXPECT_EQ(State(public_session), static_cast<CK_ULONG>(CKS_RO_PUBLIC_SESSION));
  CK_MECHANISM mechanism = Mech(CKM_SHA256);
  ASSERT_THAT(f_->C_DigestInit(public_session, &mechanism), RvIs(CKR_OK));
  std::string digest(32, '\0');
  CK_ULONG length = digest.size();
  ASSERT_THAT(f_->C_Digest(public_session, In("abc"), 3, In(digest), &length), RvIs(CKR_OK));
  EXPECT_EQ(Hex(digest), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

struct HmacVector {
  const char* name;
  CK_MECHANISM_TYPE mechanism;
  std::string key;
  std::string data;
  const char* mac;
};

TEST_F(KatTest, HmacMatchesRfc4231TestCases1And2) {
  const std::string key1(20, '\x0b'), data1 = "Hi There";
  const std::string key2 = "Jefe", data2 = "what do ya want for nothing?";
  const std::vector<HmacVector> vectors = {
      {"HMAC-SHA-256 case 1", CKM_SHA256_HMAC, key1, data1,
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"HMAC-SHA-384 case 1", CKM_SHA384_HMAC, key1, data1,
       "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"},
      {"HMAC-SHA-512 case 1", CKM_SHA512_HMAC, key1, data1,
       "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
       "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
      {"HMAC-SHA-256 case 2", CKM_SHA256_HMAC, key2, data2,
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"HMAC-SHA-384 case 2", CKM_SHA384_HMAC, key2, data2,
       "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"},
      {"HMAC-SHA-512 case 2", CKM_SHA512_HMAC, key2, data2,
       "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
       "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
  };
  for (const HmacVector& v : vectors) {
    SCOPED_TRACE(v.name);
    CK_OBJECT_HANDLE key =
        ImportSecret(CKK_GENERIC_SECRET, v.key, Tmpl().Bool(CKA_SIGN, true).Bool(CKA_VERIFY, true));
    const std::string mac = Sign(Mech(v.mechanism), key, v.data);
    EXPECT_EQ(Hex(mac), v.mac);
    EXPECT_THAT(Verify(Mech(v.mechanism), key, v.data, Unhex(v.mac)), RvIs(CKR_OK));
    std::string wrong = Unhex(v.mac);
    wrong[5] ^= 0x01;
    EXPECT_THAT(Verify(Mech(v.mechanism), key, v.data, wrong), RvIs(CKR_SIGNATURE_INVALID));
    // Multi-part MAC over the same data.
    CK_MECHANISM mechanism = Mech(v.mechanism);
    ASSERT_THAT(f_->C_SignInit(session_, &mechanism, key), RvIs(CKR_OK));
    for (char c : v.data) ASSERT_THAT(f_->C_SignUpdate(session_, In(std::string(1, c)), 1), RvIs(CKR_OK));
    std::string parts(64, '\0');
    CK_ULONG length = parts.size();
    ASSERT_THAT(f_->C_SignFinal(session_, In(parts), &length), RvIs(CKR_OK));
    EXPECT_EQ(Hex(parts.substr(0, length)), v.mac);
  }
}

// Key wrapping: the KEK and the key are imported, the wrap is compared with
// the RFC, and the unwrapped key's value (readable by choice) with the key.
class KeyWrapTest : public CryptoTest {
 protected:
  CK_OBJECT_HANDLE Kek(const std::string& value) {
    return ImportSecret(CKK_AES, value, Tmpl().Bool(CKA_WRAP, true).Bool(CKA_UNWRAP, true));
  }
  CK_OBJECT_HANDLE Unwrap(CK_MECHANISM mechanism, CK_OBJECT_HANDLE kek, const std::string& wrapped,
                          CK_KEY_TYPE type) {
    Tmpl t;
    t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, type).Bool(CKA_SENSITIVE, false)
        .Bool(CKA_EXTRACTABLE, true);
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    EXPECT_THAT(f_->C_UnwrapKey(session_, &mechanism, kek, In(wrapped), wrapped.size(), t.data(), t.size(), &key),
                RvIs(CKR_OK));
    return key;
  }
};

TEST_F(KeyWrapTest, AesKeyWrapMatchesRfc3394Section41) {
  const CK_OBJECT_HANDLE kek = Kek(Unhex("000102030405060708090a0b0c0d0e0f"));
  const std::string key_data = Unhex("00112233445566778899aabbccddeeff");
  const CK_OBJECT_HANDLE key = ImportSecret(CKK_AES, key_data, Tmpl().Bool(CKA_EXTRACTABLE, true));
  const std::string wrapped = Wrap(Mech(CKM_AES_KEY_WRAP), kek, key);
  EXPECT_EQ(Hex(wrapped), "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5");
  const CK_OBJECT_HANDLE unwrapped = Unwrap(Mech(CKM_AES_KEY_WRAP), kek, wrapped, CKK_AES);
  EXPECT_EQ(Hex(Bytes(unwrapped, CKA_VALUE)), Hex(key_data));
  EXPECT_EQ(Ulong(unwrapped, CKA_VALUE_LEN), 16u);
  // An unwrapped key was not made here: not local, never "always sensitive".
  EXPECT_FALSE(Bool(unwrapped, CKA_LOCAL));
  // A corrupted wrapping fails its integrity check.
  std::string corrupted = wrapped;
  corrupted[9] ^= 0x40;
  CK_MECHANISM mechanism = Mech(CKM_AES_KEY_WRAP);
  Tmpl t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES);
  CK_OBJECT_HANDLE ignored;
  EXPECT_THAT(
      f_->C_UnwrapKey(session_, &mechanism, kek, In(corrupted), corrupted.size(), t.data(), t.size(), &ignored),
      RvIs(CKR_WRAPPED_KEY_INVALID));
}

TEST_F(KeyWrapTest, AesKeyWrapWithPaddingMatchesRfc5649) {
  const CK_OBJECT_HANDLE kek = Kek(Unhex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"));
  const std::string key20 = Unhex("c37b7e6492584340bed12207808941155068f738");
  const CK_OBJECT_HANDLE key = ImportSecret(CKK_GENERIC_SECRET, key20, Tmpl().Bool(CKA_EXTRACTABLE, true));
  const std::string wrapped = Wrap(Mech(CKM_AES_KEY_WRAP_PAD), kek, key);
  EXPECT_EQ(Hex(wrapped), "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a");
  const CK_OBJECT_HANDLE unwrapped = Unwrap(Mech(CKM_AES_KEY_WRAP_PAD), kek, wrapped, CKK_GENERIC_SECRET);
  EXPECT_EQ(Hex(Bytes(unwrapped, CKA_VALUE)), Hex(key20));
  // The RFC's second example: a 7-byte key, a single block.
  const std::string key7 = Unhex("466f7250617369");
  const CK_OBJECT_HANDLE short_key = ImportSecret(CKK_GENERIC_SECRET, key7, Tmpl().Bool(CKA_EXTRACTABLE, true));
  EXPECT_EQ(Hex(Wrap(Mech(CKM_AES_KEY_WRAP_PAD), kek, short_key)), "afbeb0f07dfbf5419200f2ccb50bb24f");
}

// McGrew and Viega, "The Galois/Counter Mode of Operation", test case 4
// (AES-128, 60-byte plaintext, 20 bytes of AAD, 96-bit IV).
TEST_F(KatTest, AesGcmMatchesMcGrewViegaTestCase4) {
  const CK_OBJECT_HANDLE key = ImportSecret(CKK_AES, Unhex("feffe9928665731c6d6a8f9467308308"), Tmpl());
  const std::string plaintext = Unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657"
      "ba637b39");
  std::string iv = Unhex("cafebabefacedbaddecaf888");
  std::string aad = Unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const std::string expected =
      "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac97"
      "3d58e091"
      "5bc94fbc3221a5db94fae95ae7121a47";  // the tag
  CK_GCM_PARAMS params = {In(iv), iv.size(), 96, In(aad), aad.size(), 128};
  const std::string ciphertext = Encrypt(Mech(CKM_AES_GCM, &params), key, plaintext);
  EXPECT_EQ(Hex(ciphertext), expected);
  EXPECT_EQ(Hex(Decrypt(Mech(CKM_AES_GCM, &params), key, ciphertext)), Hex(plaintext));
  // A flipped tag bit fails authentication.
  std::string forged = ciphertext;
  forged.back() ^= 0x01;
  CK_MECHANISM mechanism = Mech(CKM_AES_GCM, &params);
  ASSERT_THAT(f_->C_DecryptInit(session_, &mechanism, key), RvIs(CKR_OK));
  std::string out(forged.size(), '\0');
  CK_ULONG length = out.size();
  EXPECT_THAT(f_->C_Decrypt(session_, In(forged), forged.size(), In(out), &length), RvIs(CKR_ENCRYPTED_DATA_INVALID));
}

const char kSp80038aKey[] = "2b7e151628aed2a6abf7158809cf4f3c";
const char kSp80038aPlaintext[] =
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17"
    "ad2b417be66c3710";
const char kSp80038aCbcCiphertext[] =
    "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09"
    "120eca307586e1a7";

TEST_F(KatTest, AesCbcMatchesSp80038aF21) {
  const CK_OBJECT_HANDLE key = ImportSecret(CKK_AES, Unhex(kSp80038aKey), Tmpl());
  std::string iv = Unhex("000102030405060708090a0b0c0d0e0f");
  const std::string plaintext = Unhex(kSp80038aPlaintext);
  EXPECT_EQ(Hex(Encrypt(Mech(CKM_AES_CBC, In(iv), iv.size()), key, plaintext)), kSp80038aCbcCiphertext);
  EXPECT_EQ(Hex(Decrypt(Mech(CKM_AES_CBC, In(iv), iv.size()), key, Unhex(kSp80038aCbcCiphertext))),
            kSp80038aPlaintext);
  // Without padding, input that is not whole blocks is refused.
  CK_MECHANISM mechanism = Mech(CKM_AES_CBC, In(iv), iv.size());
  ASSERT_THAT(f_->C_EncryptInit(session_, &mechanism, key), RvIs(CKR_OK));
  std::string out(64, '\0');
  CK_ULONG length = out.size();
  EXPECT_THAT(f_->C_Encrypt(session_, In(plaintext), 15, In(out), &length), RvIs(CKR_DATA_LEN_RANGE));
}

TEST_F(KatTest, AesCbcPadRoundTripsAndPadsPerPkcs7) {
  const CK_OBJECT_HANDLE key = ImportSecret(CKK_AES, Unhex(kSp80038aKey), Tmpl());
  std::string iv = Unhex("000102030405060708090a0b0c0d0e0f");
  const std::string plaintext = Unhex(kSp80038aPlaintext);
  for (size_t size : {0, 1, 15, 16, 17, 64}) {
    SCOPED_TRACE(size);
    const std::string data = plaintext.substr(0, size);
    const std::string ciphertext = Encrypt(Mech(CKM_AES_CBC_PAD, In(iv), iv.size()), key, data);
    EXPECT_EQ(ciphertext.size(), (size / 16 + 1) * 16);
    EXPECT_EQ(Hex(Decrypt(Mech(CKM_AES_CBC_PAD, In(iv), iv.size()), key, ciphertext)), Hex(data));
  }
  // Whole blocks of the SP 800-38A plaintext give its CBC ciphertext, then
  // one block of padding.
  const std::string padded = Encrypt(Mech(CKM_AES_CBC_PAD, In(iv), iv.size()), key, plaintext);
  EXPECT_EQ(Hex(padded.substr(0, 64)), kSp80038aCbcCiphertext);
}

TEST_F(KatTest, MultiPartEncryptionEqualsSinglePart) {
  const CK_OBJECT_HANDLE key = ImportSecret(CKK_AES, Unhex(kSp80038aKey), Tmpl());
  std::string iv = Unhex("000102030405060708090a0b0c0d0e0f");
  std::string data;
  for (int i = 0; i < 100; ++i) data.push_back(static_cast<char>(i * 7));
  const std::string single = Encrypt(Mech(CKM_AES_CBC_PAD, In(iv), iv.size()), key, data);
  // Uneven parts: 5, 30, 1, 64 bytes; each update returns whole blocks only.
  CK_MECHANISM mechanism = Mech(CKM_AES_CBC_PAD, In(iv), iv.size());
  ASSERT_THAT(f_->C_EncryptInit(session_, &mechanism, key), RvIs(CKR_OK));
  std::string multi;
  size_t offset = 0;
  for (size_t part : {5, 30, 1, 64}) {
    const std::string in = data.substr(offset, part);
    offset += part;
    std::string out(in.size() + 32, '\0');
    CK_ULONG length = out.size();
    ASSERT_THAT(f_->C_EncryptUpdate(session_, In(in), in.size(), In(out), &length), RvIs(CKR_OK));
    EXPECT_EQ(length % 16, 0u);
    multi += out.substr(0, length);
  }
  std::string last(32, '\0');
  CK_ULONG length = last.size();
  ASSERT_THAT(f_->C_EncryptFinal(session_, In(last), &length), RvIs(CKR_OK));
  multi += last.substr(0, length);
  EXPECT_EQ(Hex(multi), Hex(single));
  // And multi-part decryption gives the data back.
  ASSERT_THAT(f_->C_DecryptInit(session_, &mechanism, key), RvIs(CKR_OK));
  std::string plain;
  for (size_t at = 0; at < multi.size(); at += 24) {
    const std::string in = multi.substr(at, 24);
    std::string out(in.size() + 32, '\0');
    CK_ULONG out_length = out.size();
    ASSERT_THAT(f_->C_DecryptUpdate(session_, In(in), in.size(), In(out), &out_length), RvIs(CKR_OK));
    plain += out.substr(0, out_length);
  }
  length = last.size();
  ASSERT_THAT(f_->C_DecryptFinal(session_, In(last), &length), RvIs(CKR_OK));
  plain += last.substr(0, length);
  EXPECT_EQ(Hex(plain), Hex(data));
}

// PKCS #11 2.40 section 5.2: a NULL buffer asks the length; a short buffer
// gives CKR_BUFFER_TOO_SMALL and the length; neither ends the operation.
TEST_F(KatTest, LengthQueriesAndShortBuffersKeepTheOperation) {
  CK_MECHANISM sha256 = Mech(CKM_SHA256);
  ASSERT_THAT(f_->C_DigestInit(session_, &sha256), RvIs(CKR_OK));
  CK_ULONG length = 0;
  ASSERT_THAT(f_->C_Digest(session_, In("abc"), 3, nullptr, &length), RvIs(CKR_OK));
  EXPECT_EQ(length, 32u);
  std::string digest(31, '\0');
  length = digest.size();
  ASSERT_THAT(f_->C_Digest(session_, In("abc"), 3, In(digest), &length), RvIs(CKR_BUFFER_TOO_SMALL));
  EXPECT_EQ(length, 32u);
  digest.resize(32);
  ASSERT_THAT(f_->C_Digest(session_, In("abc"), 3, In(digest), &length), RvIs(CKR_OK));
  EXPECT_EQ(Hex(digest), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // The successful call ended it.
  EXPECT_THAT(f_->C_Digest(session_, In("abc"), 3, In(digest), &length), RvIs(CKR_OPERATION_NOT_INITIALIZED));

  // HMAC: the same through C_Sign and C_SignFinal.
  const CK_OBJECT_HANDLE key = ImportSecret(CKK_GENERIC_SECRET, "Jefe", Tmpl().Bool(CKA_SIGN, true));
  CK_MECHANISM hmac = Mech(CKM_SHA256_HMAC);
  const std::string data = "what do ya want for nothing?";
  ASSERT_THAT(f_->C_SignInit(session_, &hmac, key), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_SignUpdate(session_, In(data), data.size()), RvIs(CKR_OK));
  length = 0;
  ASSERT_THAT(f_->C_SignFinal(session_, nullptr, &length), RvIs(CKR_OK));
  EXPECT_EQ(length, 32u);
  std::string mac(8, '\0');
  length = mac.size();
  ASSERT_THAT(f_->C_SignFinal(session_, In(mac), &length), RvIs(CKR_BUFFER_TOO_SMALL));
  EXPECT_EQ(length, 32u);
  mac.resize(length);
  ASSERT_THAT(f_->C_SignFinal(session_, In(mac), &length), RvIs(CKR_OK));
  EXPECT_EQ(Hex(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

  // Decryption: the length asked may be an upper bound, the real one comes back.
  const CK_OBJECT_HANDLE aes = ImportSecret(CKK_AES, Unhex(kSp80038aKey), Tmpl());
  std::string iv = Unhex("000102030405060708090a0b0c0d0e0f");
  CK_MECHANISM cbc_pad = Mech(CKM_AES_CBC_PAD, In(iv), iv.size());
  const std::string ciphertext = Encrypt(cbc_pad, aes, "seventeen bytes!!");
  ASSERT_EQ(ciphertext.size(), 32u);
  ASSERT_THAT(f_->C_DecryptInit(session_, &cbc_pad, aes), RvIs(CKR_OK));
  length = 0;
  ASSERT_THAT(f_->C_Decrypt(session_, In(ciphertext), ciphertext.size(), nullptr, &length), RvIs(CKR_OK));
  EXPECT_GE(length, 17u);
  std::string plain(4, '\0');
  length = plain.size();
  ASSERT_THAT(f_->C_Decrypt(session_, In(ciphertext), ciphertext.size(), In(plain), &length),
              RvIs(CKR_BUFFER_TOO_SMALL));
  EXPECT_GE(length, 17u);
  plain.resize(length);
  ASSERT_THAT(f_->C_Decrypt(session_, In(ciphertext), ciphertext.size(), In(plain), &length), RvIs(CKR_OK));
  EXPECT_EQ(plain.substr(0, length), "seventeen bytes!!");
}

TEST_F(KatTest, DigestKeyHashesTheValueOfExtractableKeysOnly) {
  // SHA-256 of the RFC 4231 case 2 key "Jefe", the value C_DigestKey feeds in.
  const CK_OBJECT_HANDLE key = ImportSecret(CKK_GENERIC_SECRET, "Jefe", Tmpl().Bool(CKA_EXTRACTABLE, true));
  CK_MECHANISM sha256 = Mech(CKM_SHA256);
  ASSERT_THAT(f_->C_DigestInit(session_, &sha256), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_DigestUpdate(session_, In("abc"), 3), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_DigestKey(session_, key), RvIs(CKR_OK));
  std::string digest(32, '\0');
  CK_ULONG length = digest.size();
  ASSERT_THAT(f_->C_DigestFinal(session_, In(digest), &length), RvIs(CKR_OK));
  EXPECT_EQ(Hex(digest), Hex(Digest(CKM_SHA256, "abcJefe")));
  // A digest would reveal a function of an unextractable key.
  const CK_OBJECT_HANDLE kept = ImportSecret(CKK_GENERIC_SECRET, "Jefe", Tmpl());
  ASSERT_THAT(f_->C_DigestInit(session_, &sha256), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_DigestKey(session_, kept), RvIs(CKR_KEY_INDIGESTIBLE));
}

TEST_F(KatTest, ShortBufferOnEncryptUpdateKeepsItsOutputForTheRetry) {
  const CK_OBJECT_HANDLE key = ImportSecret(CKK_AES, Unhex(kSp80038aKey), Tmpl());
  std::string iv = Unhex("000102030405060708090a0b0c0d0e0f");
  CK_MECHANISM cbc = Mech(CKM_AES_CBC, In(iv), iv.size());
  const std::string plaintext = Unhex(kSp80038aPlaintext);
  ASSERT_THAT(f_->C_EncryptInit(session_, &cbc, key), RvIs(CKR_OK));
  std::string out(16, '\0');
  CK_ULONG length = out.size();
  ASSERT_THAT(f_->C_EncryptUpdate(session_, In(plaintext), 32, In(out), &length), RvIs(CKR_BUFFER_TOO_SMALL));
  EXPECT_EQ(length, 32u);
  // The application retries the same call with a bigger buffer; the chain
  // goes on as if the short call had not happened.
  out.resize(32);
  ASSERT_THAT(f_->C_EncryptUpdate(session_, In(plaintext), 32, In(out), &length), RvIs(CKR_OK));
  std::string ciphertext = out.substr(0, length);
  const std::string rest = plaintext.substr(32);
  length = out.size();
  ASSERT_THAT(f_->C_EncryptUpdate(session_, In(rest), rest.size(), In(out), &length), RvIs(CKR_OK));
  ciphertext += out.substr(0, length);
  length = out.size();
  ASSERT_THAT(f_->C_EncryptFinal(session_, In(out), &length), RvIs(CKR_OK));
  EXPECT_EQ(length, 0u);
  EXPECT_EQ(Hex(ciphertext), kSp80038aCbcCiphertext);
}

TEST_F(KatTest, MultiPartAesGcmMatchesMcGrewViegaTestCase4) {
  const CK_OBJECT_HANDLE key = ImportSecret(CKK_AES, Unhex("feffe9928665731c6d6a8f9467308308"), Tmpl());
  const std::string plaintext = Unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657"
      "ba637b39");
  std::string iv = Unhex("cafebabefacedbaddecaf888");
  std::string aad = Unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  CK_GCM_PARAMS params = {In(iv), iv.size(), 96, In(aad), aad.size(), 128};
  CK_MECHANISM gcm = Mech(CKM_AES_GCM, &params);
  ASSERT_THAT(f_->C_EncryptInit(session_, &gcm, key), RvIs(CKR_OK));
  std::string ciphertext;
  for (size_t at = 0; at < plaintext.size(); at += 25) {
    const std::string part = plaintext.substr(at, 25);
    std::string out(part.size() + 16, '\0');
    CK_ULONG length = out.size();
    ASSERT_THAT(f_->C_EncryptUpdate(session_, In(part), part.size(), In(out), &length), RvIs(CKR_OK));
    ciphertext += out.substr(0, length);
  }
  std::string last(32, '\0');
  CK_ULONG length = last.size();
  ASSERT_THAT(f_->C_EncryptFinal(session_, In(last), &length), RvIs(CKR_OK));
  ciphertext += last.substr(0, length);
  EXPECT_EQ(Hex(ciphertext),
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0a"
            "ac973d58e091"
            "5bc94fbc3221a5db94fae95ae7121a47");
}

}  // namespace
}  // namespace hsm::testing
