// The round trips the library saves keep the PKCS #11 semantics (see
// docs/architecture.md, "Deferred calls"): a C_*Init is deferred into the
// operation's first data call when an identical one succeeded before, NSS's
// read of CKA_ALWAYS_AUTHENTICATE is then answered locally, and
// C_CloseSession's RPC travels with the next call.
//
// Whether an Init was deferred shows in one way only, the documented one: if
// another application destroys the key first, a deferred C_SignInit returns
// CKR_OK and the C_Sign after it CKR_KEY_HANDLE_INVALID; an Init sent at once
// fails itself. The tests use that to tell which happened.
#include <openssl/sha.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/crypto_support.h"

namespace hsm::testing {
namespace {

class RoundTripTest : public CryptoTest {
 protected:
  KeyPair TokenRsa(Tmpl private_template = Tmpl()) {
    return GenerateKeyPair(
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        Tmpl().Bool(CKA_TOKEN, true).Ulong(CKA_MODULUS_BITS, 2048).Bytes(CKA_PUBLIC_EXPONENT, Unhex("010001")),
        std::move(private_template.Bool(CKA_TOKEN, true)));
  }
  KeyPair TokenEc() {
    return GenerateKeyPair(CKM_EC_KEY_PAIR_GEN, Tmpl().Bool(CKA_TOKEN, true).Bytes(CKA_EC_PARAMS, kP256Params),
                           Tmpl().Bool(CKA_TOKEN, true));
  }

  // Another application destroys the token object `handle`; its exit status
  // (0: done).
  int DestroyInAnotherApplication(CK_OBJECT_HANDLE handle) {
    return RunOtherApplication(*hsmd_, slot(), {"destroy", std::to_string(handle)});
  }

  // C_Sign into a buffer large enough, without a length query (as NSS does).
  CK_RV SignInto(CK_SESSION_HANDLE session, const std::string& data, std::string* signature) {
    signature->assign(512, '\0');
    CK_ULONG length = signature->size();
    CK_RV rv = f_->C_Sign(session, In(data), data.size(), In(*signature), &length);
    signature->resize(rv == CKR_OK ? length : 0);
    return rv;
  }

  // C_GetAttributeValue of CKA_ALWAYS_AUTHENTICATE in one of three ways.
  enum class Read { kValue, kLengthQuery, kTooSmall };
  struct Answer {
    CK_RV rv;
    CK_ULONG length;
    CK_BBOOL value;
    bool operator==(const Answer& other) const {
      return rv == other.rv && length == other.length && value == other.value;
    }
  };
  Answer ReadAlwaysAuthenticate(CK_OBJECT_HANDLE key, Read read) {
    CK_BBOOL value = 0x55;
    CK_ATTRIBUTE attribute = {CKA_ALWAYS_AUTHENTICATE, read == Read::kLengthQuery ? nullptr : &value,
                              read == Read::kTooSmall ? 0ul : static_cast<CK_ULONG>(sizeof(value))};
    CK_RV rv = f_->C_GetAttributeValue(session_, key, &attribute, 1);
    return Answer{rv, attribute.ulValueLen, value};
  }

  CK_MECHANISM sha256_rsa_ = Mech(CKM_SHA256_RSA_PKCS);
};

std::string Sha256(const std::string& data) {
  unsigned char hash[SHA256_DIGEST_LENGTH];
  SHA256(U(data), data.size(), hash);
  return std::string(reinterpret_cast<char*>(hash), sizeof(hash));
}

TEST_F(RoundTripTest, RepeatedRsaSignaturesAreValid) {
  const KeyPair rsa = TokenRsa();
  Pkey public_key = RsaPublicOf(rsa.public_key);
  ASSERT_NE(public_key, nullptr);
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    const std::string data = "message " + std::to_string(i);
    // With a length query, and without one.
    const std::string queried = Sign(sha256_rsa_, rsa.private_key, data);
    EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), "SHA256", data, queried));
    ASSERT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_OK));
    std::string direct;
    ASSERT_THAT(SignInto(session_, data, &direct), RvIs(CKR_OK));
    EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), "SHA256", data, direct));
    // And through hsmd's verification, deferred in its turn.
    EXPECT_THAT(Verify(sha256_rsa_, rsa.public_key, data, direct), RvIs(CKR_OK));
    EXPECT_THAT(Verify(sha256_rsa_, rsa.public_key, data + "!", direct), RvIs(CKR_SIGNATURE_INVALID));
  }
}

TEST_F(RoundTripTest, RepeatedEcdsaSignaturesAreValid) {
  const KeyPair ec = TokenEc();
  Pkey public_key = EcPublicOf(ec.public_key, "P-256");
  ASSERT_NE(public_key, nullptr);
  CK_MECHANISM ecdsa = Mech(CKM_ECDSA);
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    const std::string hash = Sha256("message " + std::to_string(i));
    ASSERT_THAT(f_->C_SignInit(session_, &ecdsa, ec.private_key), RvIs(CKR_OK));
    std::string signature;
    ASSERT_THAT(SignInto(session_, hash, &signature), RvIs(CKR_OK));
    ASSERT_EQ(signature.size(), 64u);
    EXPECT_TRUE(OpenSslVerifyHash(public_key.get(), nullptr, hash, EcdsaRawToDer(signature)));
    EXPECT_THAT(Verify(ecdsa, ec.public_key, hash, signature), RvIs(CKR_OK));
  }
}

TEST_F(RoundTripTest, EveryOperationKindRepeatsSingleAndMultiPart) {
  const CK_OBJECT_HANDLE aes = ImportSecret(CKK_AES, std::string(16, 'k'), Tmpl().Bool(CKA_TOKEN, true));
  const std::string iv(16, 'i');
  CK_MECHANISM cbc_pad = Mech(CKM_AES_CBC_PAD, In(iv), iv.size());
  const KeyPair rsa = TokenRsa();
  Pkey public_key = RsaPublicOf(rsa.public_key);
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const std::string plain = "plain text " + std::to_string(i);
    EXPECT_EQ(Decrypt(cbc_pad, aes, Encrypt(cbc_pad, aes, plain)), plain);
    EXPECT_EQ(Digest(CKM_SHA256, plain), Sha256(plain));

    // Multi-part: the deferred Init travels with the first part.
    CK_MECHANISM sha256 = Mech(CKM_SHA256);
    ASSERT_THAT(f_->C_DigestInit(session_, &sha256), RvIs(CKR_OK));
    ASSERT_THAT(f_->C_DigestUpdate(session_, In("plain "), 6), RvIs(CKR_OK));
    ASSERT_THAT(f_->C_DigestUpdate(session_, In(plain.substr(6)), plain.size() - 6), RvIs(CKR_OK));
    std::string digest(32, '\0');
    CK_ULONG length = digest.size();
    ASSERT_THAT(f_->C_DigestFinal(session_, In(digest), &length), RvIs(CKR_OK));
    EXPECT_EQ(digest, Sha256(plain));

    ASSERT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_OK));
    ASSERT_THAT(f_->C_SignUpdate(session_, In(plain), plain.size()), RvIs(CKR_OK));
    length = 0;
    ASSERT_THAT(f_->C_SignFinal(session_, nullptr, &length), RvIs(CKR_OK));
    std::string signature(length, '\0');
    ASSERT_THAT(f_->C_SignFinal(session_, In(signature), &length), RvIs(CKR_OK));
    EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), "SHA256", plain, signature));

    ASSERT_THAT(f_->C_VerifyInit(session_, &sha256_rsa_, rsa.public_key), RvIs(CKR_OK));
    ASSERT_THAT(f_->C_VerifyUpdate(session_, In(plain), plain.size()), RvIs(CKR_OK));
    EXPECT_THAT(f_->C_VerifyFinal(session_, In(signature), signature.size()), RvIs(CKR_OK));

    ASSERT_THAT(f_->C_EncryptInit(session_, &cbc_pad, aes), RvIs(CKR_OK));
    std::string part(64, '\0');
    length = part.size();
    ASSERT_THAT(f_->C_EncryptUpdate(session_, In(plain), plain.size(), In(part), &length), RvIs(CKR_OK));
    std::string cipher = part.substr(0, length);
    length = part.size();
    ASSERT_THAT(f_->C_EncryptFinal(session_, In(part), &length), RvIs(CKR_OK));
    cipher += part.substr(0, length);
    EXPECT_EQ(Decrypt(cbc_pad, aes, cipher), plain);
  }
}

TEST_F(RoundTripTest, AKeyDestroyedInTheApplicationIsNotUsedForADeferral) {
  const KeyPair rsa = TokenRsa();
  EXPECT_EQ(Sign(sha256_rsa_, rsa.private_key, "learnt").size(), 256u);
  CK_SESSION_HANDLE other = Open();
  ASSERT_THAT(f_->C_DestroyObject(other, rsa.private_key), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_KEY_HANDLE_INVALID));
}

TEST_F(RoundTripTest, ADeferredInitReachesHsmdBeforeItsKeyIsDestroyedInTheApplication) {
  const KeyPair rsa = TokenRsa();
  Pkey public_key = RsaPublicOf(rsa.public_key);
  EXPECT_EQ(Sign(sha256_rsa_, rsa.private_key, "learnt").size(), 256u);
  ASSERT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_OK));
  CK_SESSION_HANDLE other = Open();
  ASSERT_THAT(f_->C_DestroyObject(other, rsa.private_key), RvIs(CKR_OK));
  // As without deferral: the operation started before the key went, and has it.
  std::string signature;
  ASSERT_THAT(SignInto(session_, "data", &signature), RvIs(CKR_OK));
  EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), "SHA256", "data", signature));
}

// The one difference deferral makes (docs/architecture.md).
TEST_F(RoundTripTest, AKeyDestroyedByAnotherApplicationFailsTheDeferredInitAtTheDataCall) {
  const KeyPair rsa = TokenRsa();
  EXPECT_EQ(Sign(sha256_rsa_, rsa.private_key, "learnt").size(), 256u);
  ASSERT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_OK));
  ASSERT_EQ(DestroyInAnotherApplication(rsa.private_key), 0);
  // NSS's read is answered from what the Init told: it is as stale as the
  // deferred Init, whose failure the next call reports.
  EXPECT_EQ(ReadAlwaysAuthenticate(rsa.private_key, Read::kValue), (Answer{CKR_OK, 1, CK_FALSE}));
  std::string signature;
  EXPECT_THAT(SignInto(session_, "data", &signature), RvIs(CKR_KEY_HANDLE_INVALID));
  // The operation is not active, and the library knows the key is gone.
  EXPECT_THAT(SignInto(session_, "data", &signature), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  EXPECT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_KEY_HANDLE_INVALID));
  // Without a deferred Init, the read goes to hsmd.
  EXPECT_THAT(ReadAlwaysAuthenticate(rsa.private_key, Read::kValue).rv, RvIs(CKR_OBJECT_HANDLE_INVALID));
}

TEST_F(RoundTripTest, OnlyAnIdenticalMechanismIsDeferred) {
  CK_RSA_PKCS_PSS_PARAMS salt_32 = {CKM_SHA256, CKG_MGF1_SHA256, 32}, salt_20 = {CKM_SHA256, CKG_MGF1_SHA256, 20};
  CK_MECHANISM pss_32 = Mech(CKM_SHA256_RSA_PKCS_PSS, &salt_32), pss_20 = Mech(CKM_SHA256_RSA_PKCS_PSS, &salt_20);
  // Other parameters, another mechanism, another kind of operation: sent at
  // once. (Their failure makes the library forget the key: one key each.)
  for (CK_MECHANISM other : {pss_20, sha256_rsa_}) {
    const KeyPair rsa = TokenRsa();
    EXPECT_EQ(Sign(pss_32, rsa.private_key, "learnt").size(), 256u);
    ASSERT_EQ(DestroyInAnotherApplication(rsa.private_key), 0);
    EXPECT_THAT(f_->C_SignInit(session_, &other, rsa.private_key), RvIs(CKR_KEY_HANDLE_INVALID));
  }
  const KeyPair decrypting = TokenRsa();
  EXPECT_EQ(Sign(pss_32, decrypting.private_key, "learnt").size(), 256u);
  ASSERT_EQ(DestroyInAnotherApplication(decrypting.private_key), 0);
  CK_MECHANISM rsa_pkcs = Mech(CKM_RSA_PKCS);
  EXPECT_THAT(f_->C_DecryptInit(session_, &rsa_pkcs, decrypting.private_key), RvIs(CKR_KEY_HANDLE_INVALID));
  // The same one: deferred.
  const KeyPair rsa = TokenRsa();
  EXPECT_EQ(Sign(pss_32, rsa.private_key, "learnt").size(), 256u);
  ASSERT_EQ(DestroyInAnotherApplication(rsa.private_key), 0);
  ASSERT_THAT(f_->C_SignInit(session_, &pss_32, rsa.private_key), RvIs(CKR_OK));
  std::string signature;
  EXPECT_THAT(SignInto(session_, "data", &signature), RvIs(CKR_KEY_HANDLE_INVALID));
}

TEST_F(RoundTripTest, SessionKeysAreNeverDeferred) {
  CK_SESSION_HANDLE creator = Open();
  KeyPair pair;
  CK_MECHANISM generate = Mech(CKM_RSA_PKCS_KEY_PAIR_GEN);
  Tmpl public_template = Tmpl().Ulong(CKA_MODULUS_BITS, 2048), private_template;
  ASSERT_THAT(f_->C_GenerateKeyPair(creator, &generate, public_template.data(), public_template.size(),
                                    private_template.data(), private_template.size(), &pair.public_key,
                                    &pair.private_key),
              RvIs(CKR_OK));
  EXPECT_EQ(Sign(sha256_rsa_, pair.private_key, "learnt").size(), 256u);
  EXPECT_EQ(Sign(sha256_rsa_, pair.private_key, "again").size(), 256u);
  // Session objects die with the session that made them.
  ASSERT_THAT(f_->C_CloseSession(creator), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_SignInit(session_, &sha256_rsa_, pair.private_key), RvIs(CKR_KEY_HANDLE_INVALID));
}

TEST_F(RoundTripTest, AlwaysAuthenticateKeysAreNeverDeferred) {
  const KeyPair rsa = TokenRsa(Tmpl().Bool(CKA_ALWAYS_AUTHENTICATE, true));
  Pkey public_key = RsaPublicOf(rsa.public_key);
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    ASSERT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_OK));
    EXPECT_EQ(ReadAlwaysAuthenticate(rsa.private_key, Read::kValue), (Answer{CKR_OK, 1, CK_TRUE}));
    ASSERT_THAT(Login(session_, CKU_CONTEXT_SPECIFIC, hsmd_->user_pin), RvIs(CKR_OK));
    std::string signature;
    ASSERT_THAT(SignInto(session_, "data", &signature), RvIs(CKR_OK));
    EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), "SHA256", "data", signature));
  }
  ASSERT_EQ(DestroyInAnotherApplication(rsa.private_key), 0);
  EXPECT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_KEY_HANDLE_INVALID));
}

TEST_F(RoundTripTest, ASecondInitIsRefusedAlsoWhenTheFirstWasDeferred) {
  const KeyPair rsa = TokenRsa();
  Pkey public_key = RsaPublicOf(rsa.public_key);
  EXPECT_EQ(Sign(sha256_rsa_, rsa.private_key, "learnt").size(), 256u);
  ASSERT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_OPERATION_ACTIVE));
  std::string signature;
  ASSERT_THAT(SignInto(session_, "data", &signature), RvIs(CKR_OK));
  EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), "SHA256", "data", signature));
  EXPECT_THAT(SignInto(session_, "data", &signature), RvIs(CKR_OPERATION_NOT_INITIALIZED));
}

TEST_F(RoundTripTest, LengthQueriesAndShortBuffersKeepADeferredOperation) {
  const KeyPair rsa = TokenRsa();
  Pkey public_key = RsaPublicOf(rsa.public_key);
  EXPECT_EQ(Sign(sha256_rsa_, rsa.private_key, "learnt").size(), 256u);
  ASSERT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_OK));
  CK_ULONG length = 0;
  ASSERT_THAT(f_->C_Sign(session_, In("data"), 4, nullptr, &length), RvIs(CKR_OK));
  EXPECT_EQ(length, 256u);
  std::string signature(length, '\0');
  ASSERT_THAT(f_->C_Sign(session_, In("data"), 4, In(signature), &length), RvIs(CKR_OK));
  EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), "SHA256", "data", signature));

  ASSERT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_OK));
  length = 10;
  ASSERT_THAT(f_->C_Sign(session_, In("data"), 4, In(signature), &length), RvIs(CKR_BUFFER_TOO_SMALL));
  EXPECT_EQ(length, 256u);
  ASSERT_THAT(f_->C_Sign(session_, In("data"), 4, In(signature), &length), RvIs(CKR_OK));
  EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), "SHA256", "data", signature));
}

TEST_F(RoundTripTest, AnErrorEndsADeferredOperationAsAnyOther) {
  const KeyPair rsa = TokenRsa();
  CK_MECHANISM rsa_pkcs = Mech(CKM_RSA_PKCS);
  EXPECT_EQ(Sign(rsa_pkcs, rsa.private_key, "learnt").size(), 256u);
  ASSERT_THAT(f_->C_SignInit(session_, &rsa_pkcs, rsa.private_key), RvIs(CKR_OK));
  std::string signature;
  EXPECT_THAT(SignInto(session_, std::string(300, 'x'), &signature), RvIs(CKR_DATA_LEN_RANGE));
  EXPECT_THAT(SignInto(session_, "short", &signature), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  ASSERT_THAT(f_->C_SignInit(session_, &rsa_pkcs, rsa.private_key), RvIs(CKR_OK));
  EXPECT_THAT(SignInto(session_, "short", &signature), RvIs(CKR_OK));
}

TEST_F(RoundTripTest, OtherCallsOnTheSessionSendADeferredInitFirst) {
  const KeyPair rsa = TokenRsa();
  Pkey public_key = RsaPublicOf(rsa.public_key);
  EXPECT_EQ(Sign(sha256_rsa_, rsa.private_key, "learnt").size(), 256u);
  ASSERT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_OK));
  CK_BYTE random[16];
  ASSERT_THAT(f_->C_GenerateRandom(session_, random, sizeof(random)), RvIs(CKR_OK));
  // The Init reached hsmd then: a key destroyed now no longer matters.
  ASSERT_EQ(DestroyInAnotherApplication(rsa.private_key), 0);
  std::string signature;
  ASSERT_THAT(SignInto(session_, "data", &signature), RvIs(CKR_OK));
  EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), "SHA256", "data", signature));
}

TEST_F(RoundTripTest, TheLocalAlwaysAuthenticateReadEqualsHsmds) {
  const KeyPair rsa = TokenRsa();
  const KeyPair always = TokenRsa(Tmpl().Bool(CKA_ALWAYS_AUTHENTICATE, true));
  for (CK_OBJECT_HANDLE key : {rsa.private_key, always.private_key}) {
    SCOPED_TRACE(key);
    // hsmd's answers: no Init is deferred yet.
    const Answer value = ReadAlwaysAuthenticate(key, Read::kValue);
    const Answer length = ReadAlwaysAuthenticate(key, Read::kLengthQuery);
    const Answer too_small = ReadAlwaysAuthenticate(key, Read::kTooSmall);
    EXPECT_THAT(value.rv, RvIs(CKR_OK));
    EXPECT_THAT(length.rv, RvIs(CKR_OK));
    EXPECT_EQ(length.length, 1u);
    EXPECT_THAT(too_small.rv, RvIs(CKR_BUFFER_TOO_SMALL));
    for (int i = 0; i < 2; ++i) {
      ASSERT_THAT(f_->C_SignInit(session_, &sha256_rsa_, key), RvIs(CKR_OK));
      EXPECT_EQ(ReadAlwaysAuthenticate(key, Read::kValue), value);
      EXPECT_EQ(ReadAlwaysAuthenticate(key, Read::kLengthQuery), length);
      EXPECT_EQ(ReadAlwaysAuthenticate(key, Read::kTooSmall), too_small);
      if (key == always.private_key) {
        ASSERT_THAT(Login(session_, CKU_CONTEXT_SPECIFIC, hsmd_->user_pin), RvIs(CKR_OK));
      }
      std::string signature;
      ASSERT_THAT(SignInto(session_, "data", &signature), RvIs(CKR_OK));
    }
  }
  EXPECT_EQ(ReadAlwaysAuthenticate(rsa.private_key, Read::kValue).value, CK_FALSE);
  EXPECT_EQ(ReadAlwaysAuthenticate(always.private_key, Read::kValue).value, CK_TRUE);
}

TEST_F(RoundTripTest, AfterLogoutAnInitOnAPrivateKeyFailsAtOnce) {
  const KeyPair rsa = TokenRsa();
  EXPECT_EQ(Sign(sha256_rsa_, rsa.private_key, "learnt").size(), 256u);
  ASSERT_THAT(f_->C_Logout(session_), RvIs(CKR_OK));
  // hsmd's answer without deferral: the private key is invisible.
  EXPECT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_KEY_HANDLE_INVALID));
  ASSERT_THAT(Login(session_, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  EXPECT_EQ(Sign(sha256_rsa_, rsa.private_key, "learnt again").size(), 256u);

  // A deferred Init reaches hsmd before a logout on another session: its
  // operation goes on, as without deferral.
  ASSERT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_OK));
  CK_SESSION_HANDLE other = Open();
  ASSERT_THAT(f_->C_Logout(other), RvIs(CKR_OK));
  std::string signature;
  EXPECT_THAT(SignInto(session_, "data", &signature), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_SignInit(session_, &sha256_rsa_, rsa.private_key), RvIs(CKR_KEY_HANDLE_INVALID));
}

TEST_F(RoundTripTest, ClosingTheLastSessionLogsOutAndForgetsTheInits) {
  const KeyPair rsa = TokenRsa();
  EXPECT_EQ(Sign(sha256_rsa_, rsa.private_key, "learnt").size(), 256u);
  ASSERT_THAT(f_->C_CloseSession(session_), RvIs(CKR_OK));
  CK_SESSION_HANDLE read_write = Open();
  EXPECT_EQ(State(read_write), static_cast<CK_ULONG>(CKS_RW_PUBLIC_SESSION));
  CK_SESSION_HANDLE read_only = Open(CKF_SERIAL_SESSION);
  EXPECT_EQ(State(read_only), static_cast<CK_ULONG>(CKS_RO_PUBLIC_SESSION));
  EXPECT_THAT(f_->C_SignInit(read_only, &sha256_rsa_, rsa.private_key), RvIs(CKR_KEY_HANDLE_INVALID));
}

// NSS's signature flow from several threads at once, each signature in a
// fresh session: deferred Inits and closes interleave across threads.
TEST_F(RoundTripTest, ManyThreadsSignInTheirOwnSessions) {
  const KeyPair rsa = TokenRsa();
  Pkey public_key = RsaPublicOf(rsa.public_key);
  CK_MECHANISM rsa_pkcs = Mech(CKM_RSA_PKCS);
  const std::string digest_info = Sha256DigestInfo(Sha256("data"));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        CK_SESSION_HANDLE session;
        if (f_->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &session) != CKR_OK) {
          ++failures;
          continue;
        }
        CK_BBOOL always = CK_TRUE;
        CK_ATTRIBUTE query = {CKA_ALWAYS_AUTHENTICATE, &always, sizeof(always)};
        std::string signature(256, '\0');
        CK_ULONG length = signature.size();
        if (f_->C_SignInit(session, &rsa_pkcs, rsa.private_key) != CKR_OK ||
            f_->C_GetAttributeValue(session, rsa.private_key, &query, 1) != CKR_OK || always != CK_FALSE ||
            f_->C_Sign(session, In(digest_info), digest_info.size(), In(signature), &length) != CKR_OK ||
            !OpenSslVerifyHash(public_key.get(), "SHA256", Sha256("data"), signature)) {
          ++failures;
        }
        if (f_->C_CloseSession(session) != CKR_OK) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  CK_TOKEN_INFO info{};
  ASSERT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
  EXPECT_EQ(info.ulSessionCount, 1u);  // session_ alone
  EXPECT_EQ(State(session_), static_cast<CK_ULONG>(CKS_RW_USER_FUNCTIONS));
}

// hsmd audits a deferred Init as the Init RPC itself (server/audit_note.h):
// one record per C_SignInit, whether or not it was deferred (the gRPC
// adapter, server/pkcs11_service.h, writes the DeferredInitEvent records).
TEST_F(RoundTripTest, DeferredInitsAreAudited) {
  const KeyPair rsa = TokenRsa(Tmpl().Bytes(CKA_LABEL, "audited-deferral"));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Sign(sha256_rsa_, rsa.private_key, "data").size(), 256u);
  std::ifstream file(hsmd_->data_dir() + "/audit.log");
  int records = 0;
  for (std::string line; std::getline(file, line);) {
    if (line.find("\"operation\":\"C_SignInit\"") != std::string::npos &&
        line.find("\"label\":\"audited-deferral\"") != std::string::npos &&
        line.find("\"result\":\"CKR_OK\"") != std::string::npos) {
      ++records;
    }
  }
  EXPECT_EQ(records, 3);
}

using DeferredCloseTest = Pkcs11Test;

TEST_F(DeferredCloseTest, TokenInfoCountsClosedSessionsOut) {
  CK_SESSION_HANDLE a = Open(), b = Open(CKF_SERIAL_SESSION), c = Open();
  CK_TOKEN_INFO info{};
  ASSERT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
  EXPECT_EQ(info.ulSessionCount, 3u);
  EXPECT_EQ(info.ulRwSessionCount, 2u);
  ASSERT_THAT(f_->C_CloseSession(b), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
  EXPECT_EQ(info.ulSessionCount, 2u);
  EXPECT_EQ(info.ulRwSessionCount, 2u);
  ASSERT_THAT(f_->C_CloseSession(a), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_CloseSession(a), RvIs(CKR_SESSION_HANDLE_INVALID));
  CK_SESSION_INFO session_info;
  EXPECT_THAT(f_->C_GetSessionInfo(b, &session_info), RvIs(CKR_SESSION_HANDLE_INVALID));
  ASSERT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
  EXPECT_EQ(info.ulSessionCount, 1u);
  EXPECT_EQ(info.ulRwSessionCount, 1u);
  EXPECT_EQ(State(c), static_cast<CK_ULONG>(CKS_RW_PUBLIC_SESSION));
}

TEST_F(DeferredCloseTest, ClosingTheLastSessionLogsOut) {
  CK_SESSION_HANDLE first = Open();
  ASSERT_THAT(Login(first, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_CloseSession(first), RvIs(CKR_OK));
  EXPECT_EQ(State(Open(CKF_SERIAL_SESSION)), static_cast<CK_ULONG>(CKS_RO_PUBLIC_SESSION));

  CK_SESSION_HANDLE again = Open();
  ASSERT_THAT(Login(again, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  CK_SESSION_INFO info;
  ASSERT_THAT(f_->C_CloseAllSessions(slot()), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_GetSessionInfo(again, &info), RvIs(CKR_SESSION_HANDLE_INVALID));
  EXPECT_EQ(State(Open()), static_cast<CK_ULONG>(CKS_RW_PUBLIC_SESSION));
}

TEST_F(DeferredCloseTest, LogoutSeesTheClosesFirst) {
  CK_SESSION_HANDLE kept = Open(), closed = Open();
  ASSERT_THAT(Login(kept, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_CloseSession(closed), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_Logout(kept), RvIs(CKR_OK));
  CK_TOKEN_INFO info{};
  ASSERT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
  EXPECT_EQ(info.ulSessionCount, 1u);
}

TEST_F(DeferredCloseTest, FinalizeAfterAClose) {
  CK_SESSION_HANDLE session = Open();
  ASSERT_THAT(f_->C_CloseSession(session), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_Finalize(nullptr), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_Initialize(nullptr), RvIs(CKR_OK));
  Open();
  CK_TOKEN_INFO info{};
  ASSERT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
  EXPECT_EQ(info.ulSessionCount, 1u);
}

}  // namespace
}  // namespace hsm::testing
