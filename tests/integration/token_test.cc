// Slots and tokens through the real library against a real hsmd: what they
// report, and the token's PINs (PKCS #11 2.40 section 5.5).
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "tests/integration/fixture.h"

namespace hsm::testing {
namespace {

using SlotTest = Pkcs11Test;

CK_UTF8CHAR_PTR Utf8(const std::string& s) {
  return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(s.data()));
}

TEST_F(SlotTest, SlotListFollowsTheLengthQueryConvention) {
  EXPECT_THAT(f_->C_GetSlotList(CK_TRUE, nullptr, nullptr), RvIs(CKR_ARGUMENTS_BAD));
  CK_ULONG count = 0;
  ASSERT_THAT(f_->C_GetSlotList(CK_TRUE, nullptr, &count), RvIs(CKR_OK));
  ASSERT_EQ(count, 1u);
  CK_SLOT_ID slots[4] = {0};
  CK_ULONG too_small = 0;
  EXPECT_THAT(f_->C_GetSlotList(CK_FALSE, slots, &too_small), RvIs(CKR_BUFFER_TOO_SMALL));
  EXPECT_EQ(too_small, 1u);
  count = 4;
  ASSERT_THAT(f_->C_GetSlotList(CK_FALSE, slots, &count), RvIs(CKR_OK));
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(slots[0], slot());
}

TEST_F(SlotTest, SlotHoldsAPresentNonRemovableToken) {
  CK_SLOT_INFO info{};
  ASSERT_THAT(f_->C_GetSlotInfo(slot(), &info), RvIs(CKR_OK));
  EXPECT_TRUE(info.flags & CKF_TOKEN_PRESENT);
  EXPECT_FALSE(info.flags & CKF_REMOVABLE_DEVICE);
  EXPECT_EQ(Unpad(info.manufacturerID), "hsmd network HSM");
  EXPECT_THAT(f_->C_GetSlotInfo(slot() + 100, &info), RvIs(CKR_SLOT_ID_INVALID));
  EXPECT_THAT(f_->C_GetSlotInfo(slot(), nullptr), RvIs(CKR_ARGUMENTS_BAD));
}

TEST_F(SlotTest, TokenInfoNamesTheDevelopmentToken) {
  CK_TOKEN_INFO info{};
  ASSERT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
  EXPECT_EQ(Unpad(info.label), hsmd_->label);
  EXPECT_EQ(Unpad(info.model), "hsmd");
  EXPECT_EQ(Unpad(info.serialNumber).size(), 16u);
  EXPECT_TRUE(info.flags & CKF_TOKEN_INITIALIZED);
  EXPECT_TRUE(info.flags & CKF_USER_PIN_INITIALIZED);
  EXPECT_TRUE(info.flags & CKF_LOGIN_REQUIRED);
  EXPECT_TRUE(info.flags & CKF_RNG);
  EXPECT_FALSE(info.flags & CKF_WRITE_PROTECTED);
  EXPECT_EQ(info.ulMinPinLen, 4u);
  EXPECT_GE(info.ulMaxPinLen, 64u);
  EXPECT_THAT(f_->C_GetTokenInfo(42, &info), RvIs(CKR_SLOT_ID_INVALID));
}

TEST_F(SlotTest, MechanismListIsTruthful) {
  CK_ULONG count = 99;
  ASSERT_THAT(f_->C_GetMechanismList(slot(), nullptr, &count), RvIs(CKR_OK));
  std::vector<CK_MECHANISM_TYPE> types(count + 1);
  ASSERT_THAT(f_->C_GetMechanismList(slot(), types.data(), &count), RvIs(CKR_OK));
  for (CK_ULONG i = 0; i < count; ++i) {
    CK_MECHANISM_INFO info;
    EXPECT_THAT(f_->C_GetMechanismInfo(slot(), types[i], &info), RvIs(CKR_OK)) << types[i];
  }
  CK_MECHANISM_INFO info;
  EXPECT_THAT(f_->C_GetMechanismInfo(slot(), CKM_VENDOR_DEFINED + 1, &info), RvIs(CKR_MECHANISM_INVALID));
  EXPECT_THAT(f_->C_GetMechanismInfo(slot() + 7, CKM_SHA256, &info), RvIs(CKR_SLOT_ID_INVALID));
  EXPECT_THAT(f_->C_GetMechanismList(slot() + 7, nullptr, &count), RvIs(CKR_SLOT_ID_INVALID));
}

// Tests that change the token get an hsmd of their own.
class TokenPinTest : public FreshHsmdTest {
 protected:
  CK_RV InitToken(const std::string& so_pin, const std::string& label) {
    CK_UTF8CHAR padded[32];
    std::memset(padded, ' ', sizeof(padded));
    std::memcpy(padded, label.data(), label.size());
    return f_->C_InitToken(slot(), Utf8(so_pin), so_pin.size(), padded);
  }
  CK_FLAGS TokenFlags() {
    CK_TOKEN_INFO info{};
    EXPECT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
    return info.flags;
  }
};

TEST_F(TokenPinTest, UserChangesOwnPin) {
  CK_SESSION_HANDLE session = Open();
  const std::string old_pin = hsmd_->user_pin, new_pin = "new-user-pin";
  EXPECT_THAT(f_->C_SetPIN(session, Utf8("wrong"), 5, Utf8(new_pin), new_pin.size()),
              RvIs(CKR_PIN_INCORRECT));
  EXPECT_THAT(f_->C_SetPIN(session, Utf8(old_pin), old_pin.size(), Utf8("abc"), 3), RvIs(CKR_PIN_LEN_RANGE));
  ASSERT_THAT(Login(session, CKU_USER, old_pin), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_SetPIN(session, Utf8(old_pin), old_pin.size(), Utf8(new_pin), new_pin.size()),
              RvIs(CKR_OK));
  ASSERT_THAT(f_->C_Logout(session), RvIs(CKR_OK));
  EXPECT_THAT(Login(session, CKU_USER, old_pin), RvIs(CKR_PIN_INCORRECT));
  EXPECT_THAT(Login(session, CKU_USER, new_pin), RvIs(CKR_OK));
}

TEST_F(TokenPinTest, SetPinNeedsAReadWriteSession) {
  CK_SESSION_HANDLE ro = Open(CKF_SERIAL_SESSION);
  const std::string pin = hsmd_->user_pin;
  EXPECT_THAT(f_->C_SetPIN(ro, Utf8(pin), pin.size(), Utf8("another-pin"), 11), RvIs(CKR_SESSION_READ_ONLY));
  EXPECT_THAT(f_->C_InitPIN(ro, Utf8("another-pin"), 11), RvIs(CKR_SESSION_READ_ONLY));
}

TEST_F(TokenPinTest, SecurityOfficerChangesOwnPinAndInitializesTheUserPin) {
  CK_SESSION_HANDLE session = Open();
  const std::string so_pin = hsmd_->so_pin;
  EXPECT_THAT(f_->C_InitPIN(session, Utf8("user-pin-2"), 10), RvIs(CKR_USER_NOT_LOGGED_IN));
  ASSERT_THAT(Login(session, CKU_SO, so_pin), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_InitPIN(session, Utf8("abc"), 3), RvIs(CKR_PIN_LEN_RANGE));
  ASSERT_THAT(f_->C_InitPIN(session, Utf8("user-pin-2"), 10), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_SetPIN(session, Utf8(so_pin), so_pin.size(), Utf8("so-pin-2"), 8), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_Logout(session), RvIs(CKR_OK));
  EXPECT_THAT(Login(session, CKU_SO, so_pin), RvIs(CKR_PIN_INCORRECT));
  EXPECT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_PIN_INCORRECT));
  EXPECT_THAT(Login(session, CKU_USER, "user-pin-2"), RvIs(CKR_OK));
}

TEST_F(TokenPinTest, InitTokenResetsTheTokenAndNeedsNoSessions) {
  CK_SESSION_HANDLE session = Open();
  EXPECT_THAT(InitToken(hsmd_->so_pin, "renamed"), RvIs(CKR_SESSION_EXISTS));
  ASSERT_THAT(f_->C_CloseSession(session), RvIs(CKR_OK));
  EXPECT_THAT(InitToken("not-the-so-pin", "renamed"), RvIs(CKR_PIN_INCORRECT));
  EXPECT_THAT(f_->C_InitToken(slot(), nullptr, 0, nullptr), RvIs(CKR_ARGUMENTS_BAD));
  ASSERT_THAT(InitToken(hsmd_->so_pin, "renamed"), RvIs(CKR_OK));

  CK_TOKEN_INFO info{};
  ASSERT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
  EXPECT_EQ(Unpad(info.label), "renamed");
  EXPECT_TRUE(info.flags & CKF_TOKEN_INITIALIZED);
  EXPECT_FALSE(info.flags & CKF_USER_PIN_INITIALIZED);
  session = Open();
  EXPECT_THAT(Login(session, CKU_USER, hsmd_->user_pin), RvIs(CKR_USER_PIN_NOT_INITIALIZED));
  ASSERT_THAT(Login(session, CKU_SO, hsmd_->so_pin), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_InitPIN(session, Utf8("fresh-user-pin"), 14), RvIs(CKR_OK));
  EXPECT_TRUE(TokenFlags() & CKF_USER_PIN_INITIALIZED);
}

TEST_F(TokenPinTest, TokenStateSurvivesARestart) {
  CK_SESSION_HANDLE session = Open();
  const std::string pin = hsmd_->user_pin;
  ASSERT_THAT(f_->C_SetPIN(session, Utf8(pin), pin.size(), Utf8("kept-pin"), 8), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_Finalize(nullptr), RvIs(CKR_OK));
  ASSERT_TRUE(hsmd_->Restart());
  ASSERT_THAT(f_->C_Initialize(nullptr), RvIs(CKR_OK));
  session = Open();
  EXPECT_THAT(Login(session, CKU_USER, pin), RvIs(CKR_PIN_INCORRECT));
  EXPECT_THAT(Login(session, CKU_USER, "kept-pin"), RvIs(CKR_OK));
  // The PIN itself is nowhere in the database: only its verifier.
  std::string data;
  {
    std::ifstream file(hsmd_->data_dir() + "/data.mdb", std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  EXPECT_FALSE(data.empty());
  EXPECT_EQ(data.find("kept-pin"), std::string::npos);
  EXPECT_EQ(data.find(hsmd_->so_pin), std::string::npos);
}

}  // namespace
}  // namespace hsm::testing
