// Objects through the real library against a real hsmd: creation, search,
// attribute reads and changes, copies, destruction, visibility, and key
// material sealed at rest (PKCS #11 2.40 sections 4 and 5.7).
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "tests/integration/fixture.h"
#include "tests/integration/template_builder.h"

namespace hsm::testing {
namespace {

Tmpl DataObject(const std::string& label, bool token, bool is_private = false) {
  Tmpl t;
  t.Ulong(CKA_CLASS, CKO_DATA).Bool(CKA_TOKEN, token).Bool(CKA_PRIVATE, is_private).Bytes(CKA_LABEL, label)
      .Bytes(CKA_VALUE, "payload of " + label);
  return t;
}

Tmpl Certificate(const std::string& label, const std::string& id, const std::string& serial) {
  Tmpl t;
  t.Ulong(CKA_CLASS, CKO_CERTIFICATE).Ulong(CKA_CERTIFICATE_TYPE, CKC_X_509).Bool(CKA_TOKEN, true)
      .Bytes(CKA_LABEL, label).Bytes(CKA_ID, id).Bytes(CKA_SUBJECT, "subject-" + label)
      .Bytes(CKA_ISSUER, "issuer-ca").Bytes(CKA_SERIAL_NUMBER, serial).Bytes(CKA_VALUE, "certificate-der-" + label);
  return t;
}

std::string Bn(const EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(key, name, &bn);
  std::string out(BN_num_bytes(bn), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_clear_free(bn);
  return out;
}

// An RSA private key template with every component, as NSS writes it.
Tmpl RsaPrivateKey(const std::string& label, std::string* private_exponent, bool break_prime = false) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  Tmpl t;
  std::string prime1 = Bn(key, OSSL_PKEY_PARAM_RSA_FACTOR1);
  if (break_prime) prime1.back() ^= 0x02;
  *private_exponent = Bn(key, OSSL_PKEY_PARAM_RSA_D);
  t.Ulong(CKA_CLASS, CKO_PRIVATE_KEY).Ulong(CKA_KEY_TYPE, CKK_RSA).Bool(CKA_TOKEN, true).Bool(CKA_PRIVATE, true)
      .Bytes(CKA_LABEL, label).Bytes(CKA_ID, "rsa-id")
      .Bytes(CKA_MODULUS, Bn(key, OSSL_PKEY_PARAM_RSA_N)).Bytes(CKA_PUBLIC_EXPONENT, Bn(key, OSSL_PKEY_PARAM_RSA_E))
      .Bytes(CKA_PRIVATE_EXPONENT, *private_exponent).Bytes(CKA_PRIME_1, prime1)
      .Bytes(CKA_PRIME_2, Bn(key, OSSL_PKEY_PARAM_RSA_FACTOR2))
      .Bytes(CKA_EXPONENT_1, Bn(key, OSSL_PKEY_PARAM_RSA_EXPONENT1))
      .Bytes(CKA_EXPONENT_2, Bn(key, OSSL_PKEY_PARAM_RSA_EXPONENT2))
      .Bytes(CKA_COEFFICIENT, Bn(key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1));
  EVP_PKEY_free(key);
  return t;
}

// Each test gets a fresh hsmd: objects are token state.
class ObjectTest : public FreshHsmdTest {
 protected:

  CK_RV Create(CK_SESSION_HANDLE session, Tmpl t, CK_OBJECT_HANDLE* object) {
    return f_->C_CreateObject(session, t.data(), t.size(), object);
  }
  CK_OBJECT_HANDLE MustCreate(CK_SESSION_HANDLE session, Tmpl t) {
    CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
    EXPECT_THAT(Create(session, std::move(t), &object), RvIs(CKR_OK));
    return object;
  }
  std::vector<CK_OBJECT_HANDLE> Find(CK_SESSION_HANDLE session, Tmpl t, CK_ULONG page = 100) {
    std::vector<CK_OBJECT_HANDLE> found;
    EXPECT_THAT(f_->C_FindObjectsInit(session, t.data(), t.size()), RvIs(CKR_OK));
    std::vector<CK_OBJECT_HANDLE> buffer(page);
    for (;;) {
      CK_ULONG count = 0;
      EXPECT_THAT(f_->C_FindObjects(session, buffer.data(), page, &count), RvIs(CKR_OK));
      if (count == 0) break;
      found.insert(found.end(), buffer.begin(), buffer.begin() + count);
    }
    EXPECT_THAT(f_->C_FindObjectsFinal(session), RvIs(CKR_OK));
    return found;
  }
  std::string Label(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object) {
    char buffer[256];
    CK_ATTRIBUTE attribute = {CKA_LABEL, buffer, sizeof(buffer)};
    EXPECT_THAT(f_->C_GetAttributeValue(session, object, &attribute, 1), RvIs(CKR_OK));
    return std::string(buffer, attribute.ulValueLen);
  }
  std::string DatabaseBytes() {
    std::string all;
    for (const char* name : {"/data.mdb", "/lock.mdb"}) {
      std::ifstream file(hsmd_->data_dir() + name, std::ios::binary);
      all.append(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    }
    return all;
  }
};

TEST_F(ObjectTest, DataObjectLifeCycle) {
  CK_SESSION_HANDLE session = Open();
  CK_OBJECT_HANDLE object = MustCreate(session, DataObject("notes", false));
  EXPECT_NE(object, CK_INVALID_HANDLE);
  EXPECT_EQ(Label(session, object), "notes");
  CK_ULONG size = 0;
  EXPECT_THAT(f_->C_GetObjectSize(session, object, &size), RvIs(CKR_OK));
  EXPECT_GT(size, 0u);
  EXPECT_EQ(Find(session, Tmpl().Bytes(CKA_LABEL, "notes")), std::vector<CK_OBJECT_HANDLE>{object});
  ASSERT_THAT(f_->C_DestroyObject(session, object), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_DestroyObject(session, object), RvIs(CKR_OBJECT_HANDLE_INVALID));
  EXPECT_TRUE(Find(session, Tmpl().Bytes(CKA_LABEL, "notes")).empty());
  EXPECT_THAT(f_->C_GetObjectSize(session, 0, &size), RvIs(CKR_OBJECT_HANDLE_INVALID));
}

TEST_F(ObjectTest, CertificatesAreFoundByWhatNssSearchesFor) {
  CK_SESSION_HANDLE session = Open();
  CK_OBJECT_HANDLE ca = MustCreate(session, Certificate("ca", "\x01", "\x02\x01\x01"));
  CK_OBJECT_HANDLE ocsp = MustCreate(session, Certificate("ocsp", "\x02", "\x02\x01\x02"));
  using H = std::vector<CK_OBJECT_HANDLE>;
  EXPECT_EQ(Find(session, Tmpl().Ulong(CKA_CLASS, CKO_CERTIFICATE)), (H{ca, ocsp}));
  EXPECT_EQ(Find(session, Tmpl().Bytes(CKA_ID, "\x02")), H{ocsp});
  EXPECT_EQ(Find(session, Tmpl().Bytes(CKA_LABEL, "ca")), H{ca});
  EXPECT_EQ(Find(session, Tmpl().Bytes(CKA_SUBJECT, "subject-ocsp")), H{ocsp});
  EXPECT_EQ(Find(session, Tmpl().Bytes(CKA_ISSUER, "issuer-ca").Bytes(CKA_SERIAL_NUMBER, "\x02\x01\x01")), H{ca});
  EXPECT_EQ(Find(session, Tmpl().Ulong(CKA_CLASS, CKO_CERTIFICATE).Bytes(CKA_VALUE, "certificate-der-ocsp")),
            H{ocsp});
  EXPECT_TRUE(Find(session, Tmpl().Bytes(CKA_ID, "\x02").Bytes(CKA_LABEL, "ca")).empty());
  // Public objects need no login; a new application (after a restart, even) sees them.
  ASSERT_THAT(f_->C_Finalize(nullptr), RvIs(CKR_OK));
  ASSERT_TRUE(hsmd_->Restart());
  ASSERT_THAT(f_->C_Initialize(nullptr), RvIs(CKR_OK));
  session = Open(CKF_SERIAL_SESSION);
  EXPECT_EQ(Find(session, Tmpl().Bytes(CKA_LABEL, "ocsp")), H{ocsp});
  EXPECT_EQ(Label(session, ocsp), "ocsp");
}

TEST_F(ObjectTest, ReadOnlySessionsMakeSessionObjectsOnly) {
  CK_SESSION_HANDLE ro = Open(CKF_SERIAL_SESSION);
  CK_OBJECT_HANDLE object;
  EXPECT_THAT(Create(ro, DataObject("t", true), &object), RvIs(CKR_SESSION_READ_ONLY));
  EXPECT_THAT(Create(ro, DataObject("s", false), &object), RvIs(CKR_OK));
  CK_SESSION_HANDLE rw = Open();
  CK_OBJECT_HANDLE on_token = MustCreate(rw, DataObject("t", true));
  EXPECT_THAT(f_->C_DestroyObject(ro, on_token), RvIs(CKR_SESSION_READ_ONLY));
  Tmpl rename;
  rename.Bytes(CKA_LABEL, "renamed");
  EXPECT_THAT(f_->C_SetAttributeValue(ro, on_token, rename.data(), 1), RvIs(CKR_SESSION_READ_ONLY));
  EXPECT_THAT(f_->C_SetAttributeValue(ro, object, rename.data(), 1), RvIs(CKR_OK));
}

TEST_F(ObjectTest, PrivateObjectsAreInvisibleUntilLogin) {
  CK_SESSION_HANDLE session = Open();
  CK_OBJECT_HANDLE object;
  EXPECT_THAT(Create(session, DataObject("secret", true, true), &object), RvIs(CKR_USER_NOT_LOGGED_IN));
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  object = MustCreate(session, DataObject("secret", true, true));
  CK_OBJECT_HANDLE session_private = MustCreate(session, DataObject("session-secret", false, true));
  EXPECT_EQ(Find(session, Tmpl().Ulong(CKA_CLASS, CKO_DATA)).size(), 2u);
  ASSERT_THAT(f_->C_Logout(session), RvIs(CKR_OK));
  EXPECT_TRUE(Find(session, Tmpl().Ulong(CKA_CLASS, CKO_DATA)).empty());
  char buffer[64];
  CK_ATTRIBUTE label = {CKA_LABEL, buffer, sizeof(buffer)};
  EXPECT_THAT(f_->C_GetAttributeValue(session, object, &label, 1), RvIs(CKR_OBJECT_HANDLE_INVALID));
  EXPECT_THAT(f_->C_GetAttributeValue(session, session_private, &label, 1), RvIs(CKR_OBJECT_HANDLE_INVALID));
  EXPECT_THAT(f_->C_DestroyObject(session, object), RvIs(CKR_OBJECT_HANDLE_INVALID));
  // The SO does not see the user's private objects either.
  ASSERT_THAT(Login(session, CKU_SO, hsmd_->so_pin), RvIs(CKR_OK));
  EXPECT_TRUE(Find(session, Tmpl().Ulong(CKA_CLASS, CKO_DATA)).empty());
  ASSERT_THAT(f_->C_Logout(session), RvIs(CKR_OK));
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  EXPECT_EQ(Label(session, object), "secret");
}

TEST_F(ObjectTest, SessionObjectsAreSharedByTheApplicationAndDieWithTheirSession) {
  CK_SESSION_HANDLE creator = Open();
  CK_SESSION_HANDLE other = Open(CKF_SERIAL_SESSION);
  CK_OBJECT_HANDLE object = MustCreate(creator, DataObject("ephemeral", false));
  EXPECT_EQ(Label(other, object), "ephemeral");
  EXPECT_EQ(Find(other, Tmpl().Bytes(CKA_LABEL, "ephemeral")).size(), 1u);
  ASSERT_THAT(f_->C_CloseSession(creator), RvIs(CKR_OK));
  char buffer[64];
  CK_ATTRIBUTE label = {CKA_LABEL, buffer, sizeof(buffer)};
  EXPECT_THAT(f_->C_GetAttributeValue(other, object, &label, 1), RvIs(CKR_OBJECT_HANDLE_INVALID));
  EXPECT_TRUE(Find(other, Tmpl().Bytes(CKA_LABEL, "ephemeral")).empty());
  // And with the application.
  CK_OBJECT_HANDLE second = MustCreate(other, DataObject("ephemeral-2", false));
  ASSERT_THAT(f_->C_Finalize(nullptr), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_Initialize(nullptr), RvIs(CKR_OK));
  CK_SESSION_HANDLE fresh = Open();
  EXPECT_THAT(f_->C_GetAttributeValue(fresh, second, &label, 1), RvIs(CKR_OBJECT_HANDLE_INVALID));
}

TEST_F(ObjectTest, GetAttributeValueFollowsSection57) {
  CK_SESSION_HANDLE session = Open();
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  const std::string key_bytes(32, '\x5a');
  CK_OBJECT_HANDLE key = MustCreate(session, Tmpl()
                                                 .Ulong(CKA_CLASS, CKO_SECRET_KEY)
                                                 .Ulong(CKA_KEY_TYPE, CKK_AES)
                                                 .Bytes(CKA_LABEL, "aes")
                                                 .Bytes(CKA_VALUE, key_bytes));
  // Length queries, short buffers, sensitive and unknown attributes, all in one call.
  char label[2];
  CK_ULONG value_len = 0;
  CK_BBOOL sensitive = CK_FALSE;
  CK_ATTRIBUTE t[] = {{CKA_LABEL, nullptr, 0},         {CKA_LABEL, label, sizeof(label)},
                      {CKA_VALUE, nullptr, 0},         {CKA_VALUE_LEN, &value_len, sizeof(value_len)},
                      {CKA_MODULUS, nullptr, 0},       {CKA_SENSITIVE, &sensitive, sizeof(sensitive)}};
  CK_RV rv = f_->C_GetAttributeValue(session, key, t, 6);
  EXPECT_TRUE(rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_BUFFER_TOO_SMALL)
      << RvName(rv);
  EXPECT_EQ(t[0].ulValueLen, 3u);
  EXPECT_EQ(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(value_len, 32u);
  EXPECT_EQ(t[4].ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(sensitive, CK_TRUE);
  CK_ATTRIBUTE only_value = {CKA_VALUE, nullptr, 0};
  EXPECT_THAT(f_->C_GetAttributeValue(session, key, &only_value, 1), RvIs(CKR_ATTRIBUTE_SENSITIVE));
  CK_ATTRIBUTE only_modulus = {CKA_MODULUS, nullptr, 0};
  EXPECT_THAT(f_->C_GetAttributeValue(session, key, &only_modulus, 1), RvIs(CKR_ATTRIBUTE_TYPE_INVALID));
  CK_ATTRIBUTE only_short = {CKA_LABEL, label, sizeof(label)};
  EXPECT_THAT(f_->C_GetAttributeValue(session, key, &only_short, 1), RvIs(CKR_BUFFER_TOO_SMALL));
}

TEST_F(ObjectTest, SetAttributeValueFollowsTheRules) {
  CK_SESSION_HANDLE session = Open();
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  CK_OBJECT_HANDLE key = MustCreate(session, Tmpl()
                                                 .Ulong(CKA_CLASS, CKO_SECRET_KEY)
                                                 .Ulong(CKA_KEY_TYPE, CKK_AES)
                                                 .Bool(CKA_TOKEN, true)
                                                 .Bool(CKA_SENSITIVE, false)
                                                 .Bool(CKA_EXTRACTABLE, true)
                                                 .Bytes(CKA_VALUE, std::string(16, 'v')));
  auto set = [&](Tmpl t) { return f_->C_SetAttributeValue(session, key, t.data(), t.size()); };
  EXPECT_THAT(set(Tmpl().Bytes(CKA_LABEL, "named").Bytes(CKA_ID, "\x09")), RvIs(CKR_OK));
  EXPECT_THAT(set(Tmpl().Ulong(CKA_KEY_TYPE, CKK_DES3)), RvIs(CKR_ATTRIBUTE_READ_ONLY));
  EXPECT_THAT(set(Tmpl().Bool(CKA_LOCAL, true)), RvIs(CKR_ATTRIBUTE_READ_ONLY));
  EXPECT_THAT(set(Tmpl().Bool(CKA_SENSITIVE, true)), RvIs(CKR_OK));
  EXPECT_THAT(set(Tmpl().Bool(CKA_SENSITIVE, false)), RvIs(CKR_ATTRIBUTE_READ_ONLY));
  EXPECT_THAT(set(Tmpl().Bool(CKA_EXTRACTABLE, false)), RvIs(CKR_OK));
  EXPECT_THAT(set(Tmpl().Bool(CKA_EXTRACTABLE, true)), RvIs(CKR_ATTRIBUTE_READ_ONLY));
  EXPECT_THAT(set(Tmpl().Ulong(CKA_MODULUS_BITS, 2048)), RvIs(CKR_ATTRIBUTE_TYPE_INVALID));
  // ALWAYS_SENSITIVE and NEVER_EXTRACTABLE remember the past.
  CK_BBOOL always = CK_TRUE, never = CK_TRUE;
  CK_ATTRIBUTE history[] = {{CKA_ALWAYS_SENSITIVE, &always, 1}, {CKA_NEVER_EXTRACTABLE, &never, 1}};
  ASSERT_THAT(f_->C_GetAttributeValue(session, key, history, 2), RvIs(CKR_OK));
  EXPECT_EQ(always, CK_FALSE);
  EXPECT_EQ(never, CK_FALSE);
  // Changes persist.
  ASSERT_THAT(f_->C_Finalize(nullptr), RvIs(CKR_OK));
  ASSERT_TRUE(hsmd_->Restart());
  ASSERT_THAT(f_->C_Initialize(nullptr), RvIs(CKR_OK));
  session = Open();
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  EXPECT_EQ(Label(session, key), "named");
  // A frozen object cannot change, be copied, or be destroyed when so marked.
  CK_OBJECT_HANDLE frozen = MustCreate(session, Tmpl()
                                                    .Ulong(CKA_CLASS, CKO_DATA)
                                                    .Bool(CKA_MODIFIABLE, false)
                                                    .Bool(CKA_COPYABLE, false)
                                                    .Bool(CKA_DESTROYABLE, false));
  Tmpl rename;
  rename.Bytes(CKA_LABEL, "x");
  EXPECT_THAT(f_->C_SetAttributeValue(session, frozen, rename.data(), 1), RvIs(CKR_ACTION_PROHIBITED));
  CK_OBJECT_HANDLE copy;
  EXPECT_THAT(f_->C_CopyObject(session, frozen, nullptr, 0, &copy), RvIs(CKR_ACTION_PROHIBITED));
  EXPECT_THAT(f_->C_DestroyObject(session, frozen), RvIs(CKR_ACTION_PROHIBITED));
}

TEST_F(ObjectTest, CopyTurnsASessionKeyIntoATokenKey) {
  // What Java's keytool does: a session key, copied with CKA_TOKEN true.
  CK_SESSION_HANDLE session = Open();
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  CK_OBJECT_HANDLE session_key = MustCreate(session, Tmpl()
                                                         .Ulong(CKA_CLASS, CKO_SECRET_KEY)
                                                         .Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                                                         .Bytes(CKA_LABEL, "temp")
                                                         .Bytes(CKA_VALUE, "generic secret bytes"));
  Tmpl to_token;
  to_token.Bool(CKA_TOKEN, true).Bytes(CKA_LABEL, "kept");
  CK_OBJECT_HANDLE token_key;
  ASSERT_THAT(f_->C_CopyObject(session, session_key, to_token.data(), to_token.size(), &token_key), RvIs(CKR_OK));
  EXPECT_NE(token_key, session_key);
  Tmpl bad;
  bad.Ulong(CKA_KEY_TYPE, CKK_AES);
  CK_OBJECT_HANDLE ignored;
  EXPECT_THAT(f_->C_CopyObject(session, session_key, bad.data(), bad.size(), &ignored),
              RvIs(CKR_ATTRIBUTE_READ_ONLY));
  ASSERT_THAT(f_->C_CloseSession(session), RvIs(CKR_OK));
  session = Open();
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  EXPECT_EQ(Find(session, Tmpl().Bytes(CKA_LABEL, "kept")), std::vector<CK_OBJECT_HANDLE>{token_key});
  EXPECT_TRUE(Find(session, Tmpl().Bytes(CKA_LABEL, "temp")).empty());
  CK_BBOOL on_token = CK_FALSE;
  CK_ATTRIBUTE token_attribute = {CKA_TOKEN, &on_token, 1};
  ASSERT_THAT(f_->C_GetAttributeValue(session, token_key, &token_attribute, 1), RvIs(CKR_OK));
  EXPECT_EQ(on_token, CK_TRUE);
}

TEST_F(ObjectTest, NssTrustObjectsAreKeptVerbatim) {
  const CK_OBJECT_CLASS nss_trust = CKO_VENDOR_DEFINED | 0x4E534350 | 3;
  const CK_ATTRIBUTE_TYPE trust_server_auth = CKA_VENDOR_DEFINED | 0x4E534350 | 0x2000 | 8;
  const CK_ATTRIBUTE_TYPE cert_sha1 = CKA_VENDOR_DEFINED | 0x4E534350 | 0x2000 | 100;
  CK_SESSION_HANDLE session = Open();
  CK_OBJECT_HANDLE trust = MustCreate(session, Tmpl()
                                                   .Ulong(CKA_CLASS, nss_trust)
                                                   .Bool(CKA_TOKEN, true)
                                                   .Bytes(CKA_ISSUER, "issuer")
                                                   .Bytes(CKA_SERIAL_NUMBER, "\x01")
                                                   .Bytes(cert_sha1, std::string(20, '\x11'))
                                                   .Ulong(trust_server_auth, 0xCE534352));
  EXPECT_EQ(Find(session, Tmpl().Ulong(CKA_CLASS, nss_trust).Bytes(cert_sha1, std::string(20, '\x11'))),
            std::vector<CK_OBJECT_HANDLE>{trust});
  Tmpl change;
  change.Ulong(trust_server_auth, 0xCE534353);
  ASSERT_THAT(f_->C_SetAttributeValue(session, trust, change.data(), change.size()), RvIs(CKR_OK));
  CK_ULONG value = 0;
  CK_ATTRIBUTE read = {trust_server_auth, &value, sizeof(value)};
  ASSERT_THAT(f_->C_GetAttributeValue(session, trust, &read, 1), RvIs(CKR_OK));
  EXPECT_EQ(value, 0xCE534353u);

  // certutil -M creates a new trust object for the certificate: it replaces the old one.
  CK_OBJECT_HANDLE newer = MustCreate(session, Tmpl()
                                                   .Ulong(CKA_CLASS, nss_trust)
                                                   .Bool(CKA_TOKEN, true)
                                                   .Bytes(CKA_ISSUER, "issuer")
                                                   .Bytes(CKA_SERIAL_NUMBER, "\x01")
                                                   .Ulong(trust_server_auth, 0xCE534351));
  EXPECT_EQ(Find(session, Tmpl().Ulong(CKA_CLASS, nss_trust).Bytes(CKA_ISSUER, "issuer")),
            std::vector<CK_OBJECT_HANDLE>{newer});
  EXPECT_THAT(f_->C_GetAttributeValue(session, trust, &read, 1), RvIs(CKR_OBJECT_HANDLE_INVALID));
  // Another certificate's trust is left alone.
  CK_OBJECT_HANDLE other = MustCreate(session, Tmpl()
                                                   .Ulong(CKA_CLASS, nss_trust)
                                                   .Bool(CKA_TOKEN, true)
                                                   .Bytes(CKA_ISSUER, "issuer")
                                                   .Bytes(CKA_SERIAL_NUMBER, "\x02"));
  EXPECT_EQ(Find(session, Tmpl().Ulong(CKA_CLASS, nss_trust)).size(), 2u);
  EXPECT_NE(other, newer);
}

TEST_F(ObjectTest, ImportedKeysAreCheckedAndSealedAtRest) {
  CK_SESSION_HANDLE session = Open();
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  const std::string aes_bytes = "AES-KEY-BYTES-0123456789-abcdef!";  // 32 bytes
  CK_OBJECT_HANDLE aes = MustCreate(session, Tmpl()
                                                 .Ulong(CKA_CLASS, CKO_SECRET_KEY)
                                                 .Ulong(CKA_KEY_TYPE, CKK_AES)
                                                 .Bool(CKA_TOKEN, true)
                                                 .Bool(CKA_SENSITIVE, false)
                                                 .Bool(CKA_EXTRACTABLE, true)
                                                 .Bytes(CKA_VALUE, aes_bytes));
  std::string private_exponent;
  CK_OBJECT_HANDLE rsa = MustCreate(session, RsaPrivateKey("imported-rsa", &private_exponent));
  std::string ignored;
  CK_OBJECT_HANDLE bad;
  EXPECT_THAT(Create(session, RsaPrivateKey("broken", &ignored, /*break_prime=*/true), &bad),
              RvIs(CKR_ATTRIBUTE_VALUE_INVALID));
  Tmpl incomplete;
  incomplete.Ulong(CKA_CLASS, CKO_PRIVATE_KEY).Ulong(CKA_KEY_TYPE, CKK_RSA).Bytes(CKA_MODULUS, "\x01\x02");
  EXPECT_THAT(Create(session, std::move(incomplete), &bad), RvIs(CKR_TEMPLATE_INCOMPLETE));

  ASSERT_THAT(f_->C_Finalize(nullptr), RvIs(CKR_OK));
  hsmd_->Stop();
  const std::string database = DatabaseBytes();
  ASSERT_GT(database.size(), 0u);
  EXPECT_EQ(database.find(aes_bytes), std::string::npos) << "AES key in the clear";
  EXPECT_EQ(database.find(private_exponent), std::string::npos) << "RSA private exponent in the clear";
  EXPECT_EQ(database.find(private_exponent.substr(0, 32)), std::string::npos);

  ASSERT_TRUE(hsmd_->Restart());
  ASSERT_THAT(f_->C_Initialize(nullptr), RvIs(CKR_OK));
  session = Open();
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  std::string value(64, '\0');
  CK_ATTRIBUTE read = {CKA_VALUE, value.data(), value.size()};
  ASSERT_THAT(f_->C_GetAttributeValue(session, aes, &read, 1), RvIs(CKR_OK));
  EXPECT_EQ(value.substr(0, read.ulValueLen), aes_bytes);
  // The sensitive RSA key does not reveal its exponent, and unseals to be copied.
  CK_ATTRIBUTE exponent = {CKA_PRIVATE_EXPONENT, nullptr, 0};
  EXPECT_THAT(f_->C_GetAttributeValue(session, rsa, &exponent, 1), RvIs(CKR_ATTRIBUTE_SENSITIVE));
  CK_OBJECT_HANDLE copy;
  EXPECT_THAT(f_->C_CopyObject(session, rsa, nullptr, 0, &copy), RvIs(CKR_OK));
  EXPECT_EQ(Find(session, Tmpl().Bytes(CKA_ID, "rsa-id")).size(), 2u);
}

TEST_F(ObjectTest, SmallPagesReturnEachMatchOnce) {
  CK_SESSION_HANDLE session = Open();
  std::set<CK_OBJECT_HANDLE> created;
  for (int i = 0; i < 25; ++i) created.insert(MustCreate(session, DataObject("page-" + std::to_string(i), i % 2)));
  std::vector<CK_OBJECT_HANDLE> found = Find(session, Tmpl().Ulong(CKA_CLASS, CKO_DATA), 3);
  EXPECT_EQ(found.size(), 25u);
  EXPECT_EQ(std::set<CK_OBJECT_HANDLE>(found.begin(), found.end()), created);
}

TEST_F(ObjectTest, SearchesLongerThanThePrefetchPageThroughHsmd) {
  // More matches than C_FindObjectsInit sends at once (64): the rest come in
  // pages from hsmd, each once, and C_FindObjectsFinal releases the search.
  CK_SESSION_HANDLE session = Open();
  std::set<CK_OBJECT_HANDLE> created;
  for (int i = 0; i < 150; ++i) created.insert(MustCreate(session, DataObject("many-" + std::to_string(i), false)));
  std::vector<CK_OBJECT_HANDLE> found = Find(session, Tmpl().Ulong(CKA_CLASS, CKO_DATA), 7);
  EXPECT_EQ(found.size(), 150u);
  EXPECT_EQ(std::set<CK_OBJECT_HANDLE>(found.begin(), found.end()), created);
  // An abandoned long search is released by C_FindObjectsFinal: a new one starts.
  Tmpl all = Tmpl().Ulong(CKA_CLASS, CKO_DATA);
  ASSERT_THAT(f_->C_FindObjectsInit(session, all.data(), all.size()), RvIs(CKR_OK));
  CK_OBJECT_HANDLE some[100];
  CK_ULONG count = 0;
  ASSERT_THAT(f_->C_FindObjects(session, some, 100, &count), RvIs(CKR_OK));
  EXPECT_EQ(count, 100u);
  ASSERT_THAT(f_->C_FindObjectsFinal(session), RvIs(CKR_OK));
  EXPECT_EQ(Find(session, Tmpl().Ulong(CKA_CLASS, CKO_DATA), 200).size(), 150u);
}

// What a search keeps in hsmd (its matches beyond the first page) counts
// against the application's --max_operation_bytes, here 4,096 bytes: 512
// handles. A search that fits in its first page keeps nothing.
class SearchMemoryTest : public ObjectTest {
 protected:
  HsmdProcess::Options Options() override { return HsmdProcess::WithFlags({"--max_operation_bytes=4096"}); }
};

TEST_F(SearchMemoryTest, OpenSearchesKeepAtMostTheOperationsBudget) {
  CK_SESSION_HANDLE first = Open(), second = Open();
  for (int i = 0; i < 400; ++i) MustCreate(first, DataObject("kept-" + std::to_string(i), false));
  Tmpl all = Tmpl().Ulong(CKA_CLASS, CKO_DATA);
  ASSERT_THAT(f_->C_FindObjectsInit(first, all.data(), all.size()), RvIs(CKR_OK));  // 3,200 bytes kept
  CK_OBJECT_HANDLE some[10];
  CK_ULONG count = 0;
  ASSERT_THAT(f_->C_FindObjects(first, some, 10, &count), RvIs(CKR_OK));
  ASSERT_EQ(count, 10u);
  EXPECT_EQ(Label(first, some[0]).rfind("kept-", 0), 0u);  // other calls go on beside the search
  EXPECT_THAT(f_->C_FindObjectsInit(second, all.data(), all.size()), RvIs(CKR_DEVICE_MEMORY));
  EXPECT_EQ(Find(second, Tmpl().Bytes(CKA_LABEL, "kept-7")).size(), 1u);
  ASSERT_THAT(f_->C_FindObjectsFinal(first), RvIs(CKR_OK));
  EXPECT_EQ(Find(second, Tmpl().Ulong(CKA_CLASS, CKO_DATA), 50).size(), 400u);
}

TEST_F(ObjectTest, InitTokenDestroysTheObjects) {
  CK_SESSION_HANDLE session = Open();
  MustCreate(session, DataObject("doomed", true));
  ASSERT_THAT(f_->C_CloseSession(session), RvIs(CKR_OK));
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof(label));
  const std::string so_pin = hsmd_->so_pin;
  ASSERT_THAT(f_->C_InitToken(slot(), reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(so_pin.data())),
                              so_pin.size(), label),
              RvIs(CKR_OK));
  EXPECT_TRUE(Find(Open(), Tmpl()).empty());
}

TEST_F(ObjectTest, EveryAcknowledgedCreationSurvivesAKill) {
  std::mutex mutex;
  std::vector<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      CK_SESSION_HANDLE session;
      if (f_->C_OpenSession(slot(), CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session) != CKR_OK) {
        return;
      }
      for (int i = 0; !stop; ++i) {
        const std::string label = "burst-" + std::to_string(w) + "-" + std::to_string(i);
        Tmpl t = DataObject(label, true);
        CK_OBJECT_HANDLE object;
        if (f_->C_CreateObject(session, t.data(), t.size(), &object) != CKR_OK) break;
        std::lock_guard<std::mutex> lock(mutex);
        acknowledged.push_back(label);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  hsmd_->Stop(SIGKILL);
  stop = true;
  for (std::thread& writer : writers) writer.join();
  ASSERT_GT(acknowledged.size(), 10u);
  ASSERT_THAT(f_->C_Finalize(nullptr), RvIs(CKR_OK));
  ASSERT_TRUE(hsmd_->Restart());
  ASSERT_THAT(f_->C_Initialize(nullptr), RvIs(CKR_OK));
  CK_SESSION_HANDLE session = Open();
  std::vector<CK_OBJECT_HANDLE> all = Find(session, Tmpl().Ulong(CKA_CLASS, CKO_DATA));
  EXPECT_GE(all.size(), acknowledged.size());
  for (const std::string& label : acknowledged) {
    std::vector<CK_OBJECT_HANDLE> found = Find(session, Tmpl().Bytes(CKA_LABEL, label));
    ASSERT_EQ(found.size(), 1u) << label << " was acknowledged but is gone";
    char value[64];
    CK_ATTRIBUTE read = {CKA_VALUE, value, sizeof(value)};
    ASSERT_THAT(f_->C_GetAttributeValue(session, found[0], &read, 1), RvIs(CKR_OK));
    EXPECT_EQ(std::string(value, read.ulValueLen), "payload of " + label);
  }
}

}  // namespace
}  // namespace hsm::testing
