// Faults around the client: hsmd restarting or killed under a working client,
// and a client process dying without C_Finalize.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "tests/integration/fixture.h"

namespace hsm::testing {
namespace {

CK_UTF8CHAR_PTR Utf8(const std::string& s) {
  return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(s.data()));
}

// hsmd drops idle applications after one second here, so the tests can see it.
class RestartTest : public FreshHsmdTest {
 protected:
  HsmdProcess::Options Options() override {
    HsmdProcess::Options options;
    options.app_timeout = "1s";
    return options;
  }
  CK_RV Random(CK_SESSION_HANDLE session) {
    CK_BYTE bytes[8];
    return f_->C_GenerateRandom(session, bytes, sizeof(bytes));
  }
};

TEST_F(RestartTest, SessionsOfARestartedServerAreInvalidAndNewOnesWork) {
  CK_SESSION_HANDLE session = Open();
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  ASSERT_THAT(Random(session), RvIs(CKR_OK));

  ASSERT_TRUE(hsmd_->Restart());
  EXPECT_THAT(Random(session), RvIs(CKR_SESSION_HANDLE_INVALID));
  EXPECT_THAT(Random(session), RvIs(CKR_SESSION_HANDLE_INVALID));  // and stays so

  CK_SESSION_HANDLE fresh = Open();
  EXPECT_NE(fresh, session);
  EXPECT_THAT(Random(fresh), RvIs(CKR_OK));
  EXPECT_EQ(State(fresh), static_cast<CK_ULONG>(CKS_RW_PUBLIC_SESSION));  // the old login is gone
  EXPECT_THAT(Login(fresh, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
}

TEST_F(RestartTest, ASessionOpenedByTheCallThatFindsHsmdRestartedIsANewOne) {
  // C_OpenSession is the first call after the restart: it finds the
  // application unknown, registers again and opens the session there. That
  // session is of the new registration, not reported invalid at its first use.
  CK_SESSION_HANDLE old_session = Open();
  ASSERT_TRUE(hsmd_->Restart());
  CK_SESSION_HANDLE session = Open();
  EXPECT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  EXPECT_THAT(Random(session), RvIs(CKR_OK));
  EXPECT_THAT(Random(old_session), RvIs(CKR_SESSION_HANDLE_INVALID));

  // The same after hsmd was killed, once the library has seen it gone.
  hsmd_->Stop(SIGKILL);
  EXPECT_THAT(Random(session), RvIs(CKR_DEVICE_ERROR));
  ASSERT_TRUE(hsmd_->Restart());
  CK_SESSION_HANDLE after_kill = Open();
  EXPECT_THAT(Login(after_kill, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  EXPECT_THAT(Random(after_kill), RvIs(CKR_OK));
  EXPECT_THAT(Random(session), RvIs(CKR_SESSION_HANDLE_INVALID));
}

TEST_F(RestartTest, KilledServerGivesDeviceErrorsThenRecovers) {
  CK_SESSION_HANDLE session = Open();
  hsmd_->Stop(SIGKILL);
  auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(Random(session), RvIs(CKR_DEVICE_ERROR));
  CK_ULONG count;
  EXPECT_THAT(f_->C_GetSlotList(CK_TRUE, nullptr, &count), RvIs(CKR_DEVICE_ERROR));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));

  ASSERT_TRUE(hsmd_->Restart());
  // The first call after the restart waits for the channel to reconnect
  // (bounded by connect_wait_ms) and succeeds; no retry loop is needed.
  EXPECT_THAT(f_->C_GetSlotList(CK_TRUE, nullptr, &count), RvIs(CKR_OK)) << hsmd_->Log();
  EXPECT_THAT(Random(session), RvIs(CKR_SESSION_HANDLE_INVALID));
  EXPECT_THAT(Random(Open()), RvIs(CKR_OK));
}

TEST_F(RestartTest, IdleApplicationIsKeptAliveByHeartbeats) {
  CK_SESSION_HANDLE session = Open();
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));  // three idle timeouts
  EXPECT_THAT(Random(session), RvIs(CKR_OK));
  EXPECT_EQ(State(session), static_cast<CK_ULONG>(CKS_RW_USER_FUNCTIONS));
}

TEST_F(RestartTest, DeadClientsSessionsAreDroppedWithinTheTimeout) {
  // Our own application holds no session, so only the helper's stands in the
  // way of C_InitToken.
  ASSERT_EQ(RunSessionHolder(*hsmd_), 0);

  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof(label));
  const std::string so_pin = hsmd_->so_pin;
  EXPECT_THAT(f_->C_InitToken(slot(), Utf8(so_pin), so_pin.size(), label), RvIs(CKR_SESSION_EXISTS));
  auto start = std::chrono::steady_clock::now();
  CK_RV rv = CKR_SESSION_EXISTS;
  while (rv == CKR_SESSION_EXISTS && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    rv = f_->C_InitToken(slot(), Utf8(so_pin), so_pin.size(), label);
  }
  EXPECT_THAT(rv, RvIs(CKR_OK));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2500));
  EXPECT_THAT(hsmd_->Log(), ::testing::HasSubstr("dropped idle application"));
}

}  // namespace
}  // namespace hsm::testing
