// The library's spare sessions (client/session_pool.h): a closed clean
// session's hsmd session serves the next C_OpenSession, and nothing of that
// shows: counts, session objects, operations, the logout at the last close,
// and the security officer's login.
#include "tests/integration/fixture.h"
#include "tests/integration/template_builder.h"

namespace hsm::testing {
namespace {

class SessionPoolTest : public Pkcs11Test {
 protected:
  CK_ULONG SessionCount() {
    CK_TOKEN_INFO info{};
    EXPECT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
    return info.ulSessionCount;
  }
  CK_RV Digest(CK_SESSION_HANDLE session) {
    CK_BYTE data[] = "digest me", digest[32];
    CK_ULONG length = sizeof digest;
    return f_->C_Digest(session, data, sizeof data, digest, &length);
  }
  CK_MECHANISM sha256_{CKM_SHA256, nullptr, 0};
};

TEST_F(SessionPoolTest, ClosedSessionsAreNotCountedAndOpeningAgainCountsOne) {
  CK_SESSION_HANDLE kept = Open();
  for (int i = 0; i < 3; ++i) {
    CK_SESSION_HANDLE passing = Open();
    EXPECT_EQ(SessionCount(), 2u);
    ASSERT_THAT(f_->C_CloseSession(passing), RvIs(CKR_OK));
    EXPECT_EQ(SessionCount(), 1u);
    EXPECT_THAT(f_->C_GetSessionInfo(passing, nullptr), RvIs(CKR_SESSION_HANDLE_INVALID));
  }
  CK_SESSION_INFO info{};
  CK_SESSION_HANDLE read_only = Open(CKF_SERIAL_SESSION);
  ASSERT_THAT(f_->C_GetSessionInfo(read_only, &info), RvIs(CKR_OK));
  EXPECT_EQ(info.flags & CKF_RW_SESSION, 0u);
  EXPECT_EQ(info.state, static_cast<CK_ULONG>(CKS_RO_PUBLIC_SESSION));
  EXPECT_THAT(f_->C_CloseSession(kept), RvIs(CKR_OK));
}

TEST_F(SessionPoolTest, TheSessionObjectsOfAClosedSessionAreGone) {
  CK_SESSION_HANDLE kept = Open();
  CK_SESSION_HANDLE owner = Open();
  Tmpl data;
  data.Ulong(CKA_CLASS, CKO_DATA).Bytes(CKA_LABEL, "dies with its session");
  CK_OBJECT_HANDLE object;
  ASSERT_THAT(f_->C_CreateObject(owner, data.data(), data.size(), &object), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_CloseSession(owner), RvIs(CKR_OK));
  CK_SESSION_HANDLE next = Open();
  CK_ULONG size = 0;
  EXPECT_THAT(f_->C_GetObjectSize(next, object, &size), RvIs(CKR_OBJECT_HANDLE_INVALID));
  EXPECT_THAT(f_->C_GetObjectSize(kept, object, &size), RvIs(CKR_OBJECT_HANDLE_INVALID));
}

TEST_F(SessionPoolTest, OperationsDoNotOutliveTheirSession) {
  CK_SESSION_HANDLE kept = Open();
  // hsmd has an operation on this one: it is closed, not kept.
  CK_SESSION_HANDLE active = Open();
  ASSERT_THAT(f_->C_DigestInit(active, &sha256_), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_CloseSession(active), RvIs(CKR_OK));
  CK_SESSION_HANDLE next = Open();
  EXPECT_THAT(Digest(next), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  // A deferred C_DigestInit never reached hsmd: that session is kept, and
  // its successor has no operation either.
  ASSERT_THAT(f_->C_DigestInit(kept, &sha256_), RvIs(CKR_OK));
  ASSERT_THAT(Digest(kept), RvIs(CKR_OK));
  CK_SESSION_HANDLE deferred = Open();
  ASSERT_THAT(f_->C_DigestInit(deferred, &sha256_), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_CloseSession(deferred), RvIs(CKR_OK));
  CK_SESSION_HANDLE after = Open();
  EXPECT_THAT(Digest(after), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  ASSERT_THAT(f_->C_DigestInit(after, &sha256_), RvIs(CKR_OK));
  EXPECT_THAT(Digest(after), RvIs(CKR_OK));
}

TEST_F(SessionPoolTest, ClosingTheLastSessionStillLogsOut) {
  CK_SESSION_HANDLE first = Open();
  CK_SESSION_HANDLE second = Open();
  ASSERT_THAT(Login(first, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_CloseSession(second), RvIs(CKR_OK));  // kept as a spare
  ASSERT_THAT(f_->C_CloseSession(first), RvIs(CKR_OK));   // the last: logs out, spares too
  CK_SESSION_HANDLE again = Open();
  EXPECT_EQ(State(again), static_cast<CK_ULONG>(CKS_RW_PUBLIC_SESSION));
  EXPECT_EQ(SessionCount(), 1u);
}

TEST_F(SessionPoolTest, TheSecurityOfficerLogsInAfterAReadOnlySessionClosed) {
  CK_SESSION_HANDLE read_write = Open();
  CK_SESSION_HANDLE read_only = Open(CKF_SERIAL_SESSION);
  ASSERT_THAT(f_->C_CloseSession(read_only), RvIs(CKR_OK));
  EXPECT_THAT(Login(read_write, CKU_SO, hsmd_->so_pin), RvIs(CKR_OK));
  EXPECT_EQ(State(read_write), static_cast<CK_ULONG>(CKS_RW_SO_FUNCTIONS));
  CK_SESSION_HANDLE refused = CK_INVALID_HANDLE;
  EXPECT_THAT(f_->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &refused),
              RvIs(CKR_SESSION_READ_WRITE_SO_EXISTS));
  EXPECT_THAT(f_->C_Logout(read_write), RvIs(CKR_OK));
}

}  // namespace
}  // namespace hsm::testing
