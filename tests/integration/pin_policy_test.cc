// PIN policy through the real library: failed logins are counted and shown in
// C_GetTokenInfo, and lock the PIN at hsmd's limit (here 3).
#include "tests/integration/fixture.h"

namespace hsm::testing {
namespace {

class PinPolicyTest : public FreshHsmdTest {
 protected:
  HsmdProcess::Options Options() override {
    return HsmdProcess::WithFlags({"--max_pin_failures=3"});
  }
  CK_FLAGS Flags() {
    CK_TOKEN_INFO info{};
    EXPECT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
    return info.flags;
  }
};

TEST_F(PinPolicyTest, WrongUserPinsCountDownToALockThatTheSecurityOfficerLifts) {
  CK_SESSION_HANDLE session = Open();
  EXPECT_EQ(Flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED), 0u);
  EXPECT_THAT(Login(session, CKU_USER, "wrong-1"), RvIs(CKR_PIN_INCORRECT));
  EXPECT_TRUE(Flags() & CKF_USER_PIN_COUNT_LOW);
  EXPECT_FALSE(Flags() & CKF_USER_PIN_FINAL_TRY);
  EXPECT_THAT(Login(session, CKU_USER, "wrong-2"), RvIs(CKR_PIN_INCORRECT));
  EXPECT_TRUE(Flags() & CKF_USER_PIN_FINAL_TRY);
  EXPECT_THAT(Login(session, CKU_USER, "wrong-3"), RvIs(CKR_PIN_INCORRECT));
  EXPECT_TRUE(Flags() & CKF_USER_PIN_LOCKED);
  // Locked: even the right PIN is refused, and C_SetPIN cannot go around it.
  EXPECT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_PIN_LOCKED));
  const std::string pin = hsmd_->user_pin;
  EXPECT_THAT(f_->C_SetPIN(session, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data())), pin.size(),
                           reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>("another-pin")), 11),
              RvIs(CKR_PIN_LOCKED));
  // The SO is not locked out, and its C_InitPIN unlocks the user.
  ASSERT_THAT(Login(session, CKU_SO, hsmd_->so_pin), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_InitPIN(session, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>("fresh-pin")), 9),
              RvIs(CKR_OK));
  ASSERT_THAT(f_->C_Logout(session), RvIs(CKR_OK));
  EXPECT_FALSE(Flags() & CKF_USER_PIN_LOCKED);
  EXPECT_THAT(Login(session, CKU_USER, "fresh-pin"), RvIs(CKR_OK));
}

TEST_F(PinPolicyTest, ASuccessResetsTheCountAndTheLockSurvivesARestart) {
  CK_SESSION_HANDLE session = Open();
  EXPECT_THAT(Login(session, CKU_USER, "wrong"), RvIs(CKR_PIN_INCORRECT));
  EXPECT_THAT(Login(session, CKU_USER, "wrong"), RvIs(CKR_PIN_INCORRECT));
  ASSERT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  EXPECT_FALSE(Flags() & CKF_USER_PIN_COUNT_LOW);
  ASSERT_THAT(f_->C_Logout(session), RvIs(CKR_OK));

  for (int i = 0; i < 3; ++i) EXPECT_THAT(Login(session, CKU_SO, "wrong"), RvIs(CKR_PIN_INCORRECT));
  EXPECT_TRUE(Flags() & CKF_SO_PIN_LOCKED);
  ASSERT_THAT(f_->C_Finalize(nullptr), RvIs(CKR_OK));
  ASSERT_TRUE(hsmd_->Restart());
  ASSERT_THAT(f_->C_Initialize(nullptr), RvIs(CKR_OK));
  session = Open();
  EXPECT_TRUE(Flags() & CKF_SO_PIN_LOCKED);
  EXPECT_THAT(Login(session, CKU_SO, hsmd_->so_pin), RvIs(CKR_PIN_LOCKED));
  EXPECT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
}

}  // namespace
}  // namespace hsm::testing
