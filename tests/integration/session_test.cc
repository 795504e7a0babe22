// Sessions, login state and random numbers through the real library against a
// real hsmd (PKCS #11 2.40 sections 5.6, 5.15 and 2.6).
#include <set>
#include <thread>
#include <vector>

#include "tests/integration/fixture.h"

namespace hsm::testing {
namespace {

using SessionTest = Pkcs11Test;

TEST_F(SessionTest, OpenSessionChecksItsArguments) {
  CK_SESSION_HANDLE session;
  EXPECT_THAT(f_->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, nullptr),
              RvIs(CKR_ARGUMENTS_BAD));
  EXPECT_THAT(f_->C_OpenSession(slot(), 0, nullptr, nullptr, &session),
              RvIs(CKR_SESSION_PARALLEL_NOT_SUPPORTED));
  EXPECT_THAT(f_->C_OpenSession(999, CKF_SERIAL_SESSION, nullptr, nullptr, &session),
              RvIs(CKR_SLOT_ID_INVALID));
}

TEST_F(SessionTest, HandlesAreNonZeroDistinctAndDieWhenClosed) {
  std::set<CK_SESSION_HANDLE> handles;
  for (int i = 0; i < 5; ++i) handles.insert(Open());
  EXPECT_EQ(handles.size(), 5u);
  EXPECT_EQ(handles.count(CK_INVALID_HANDLE), 0u);
  CK_SESSION_HANDLE first = *handles.begin();
  EXPECT_THAT(f_->C_CloseSession(first), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_CloseSession(first), RvIs(CKR_SESSION_HANDLE_INVALID));
  CK_SESSION_INFO info;
  EXPECT_THAT(f_->C_GetSessionInfo(first, &info), RvIs(CKR_SESSION_HANDLE_INVALID));
  EXPECT_THAT(f_->C_GetSessionInfo(0, &info), RvIs(CKR_SESSION_HANDLE_INVALID));
  EXPECT_THAT(f_->C_GetSessionInfo(*handles.rbegin(), nullptr), RvIs(CKR_ARGUMENTS_BAD));
}

TEST_F(SessionTest, SessionInfoReportsSlotFlagsAndState) {
  CK_SESSION_HANDLE ro = Open(CKF_SERIAL_SESSION);
  CK_SESSION_HANDLE rw = Open();
  CK_SESSION_INFO info{};
  ASSERT_THAT(f_->C_GetSessionInfo(ro, &info), RvIs(CKR_OK));
  EXPECT_EQ(info.slotID, slot());
  EXPECT_EQ(info.flags, static_cast<CK_FLAGS>(CKF_SERIAL_SESSION));
  EXPECT_EQ(info.state, static_cast<CK_STATE>(CKS_RO_PUBLIC_SESSION));
  ASSERT_THAT(f_->C_GetSessionInfo(rw, &info), RvIs(CKR_OK));
  EXPECT_EQ(info.flags, static_cast<CK_FLAGS>(CKF_SERIAL_SESSION | CKF_RW_SESSION));
  EXPECT_EQ(info.state, static_cast<CK_STATE>(CKS_RW_PUBLIC_SESSION));
}

TEST_F(SessionTest, UserLoginIsSharedByAllSessionsOfTheApplication) {
  CK_SESSION_HANDLE ro = Open(CKF_SERIAL_SESSION);
  CK_SESSION_HANDLE rw = Open();
  ASSERT_THAT(Login(ro, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  EXPECT_EQ(State(ro), static_cast<CK_ULONG>(CKS_RO_USER_FUNCTIONS));
  EXPECT_EQ(State(rw), static_cast<CK_ULONG>(CKS_RW_USER_FUNCTIONS));
  // A session opened after the login is logged in too.
  CK_SESSION_HANDLE later = Open();
  EXPECT_EQ(State(later), static_cast<CK_ULONG>(CKS_RW_USER_FUNCTIONS));
  EXPECT_THAT(Login(rw, CKU_USER, hsmd_->user_pin), RvIs(CKR_USER_ALREADY_LOGGED_IN));
  EXPECT_THAT(Login(rw, CKU_SO, hsmd_->so_pin), RvIs(CKR_USER_ANOTHER_ALREADY_LOGGED_IN));
  ASSERT_THAT(f_->C_Logout(later), RvIs(CKR_OK));
  EXPECT_EQ(State(ro), static_cast<CK_ULONG>(CKS_RO_PUBLIC_SESSION));
  EXPECT_THAT(f_->C_Logout(ro), RvIs(CKR_USER_NOT_LOGGED_IN));
}

TEST_F(SessionTest, LoginRejectsBadPinsAndUserTypes) {
  CK_SESSION_HANDLE session = Open();
  EXPECT_THAT(Login(session, CKU_USER, "wrong-pin"), RvIs(CKR_PIN_INCORRECT));
  EXPECT_THAT(Login(session, CKU_USER, ""), RvIs(CKR_PIN_INCORRECT));
  EXPECT_THAT(Login(session, CKU_SO, hsmd_->user_pin), RvIs(CKR_PIN_INCORRECT));
  EXPECT_THAT(Login(session, 77, hsmd_->user_pin), RvIs(CKR_USER_TYPE_INVALID));
  EXPECT_THAT(f_->C_Login(session, CKU_USER, nullptr, 4), RvIs(CKR_ARGUMENTS_BAD));
  EXPECT_THAT(Login(session, CKU_CONTEXT_SPECIFIC, hsmd_->user_pin), RvIs(CKR_USER_NOT_LOGGED_IN));
  EXPECT_THAT(Login(0, CKU_USER, hsmd_->user_pin), RvIs(CKR_SESSION_HANDLE_INVALID));
  EXPECT_EQ(State(session), static_cast<CK_ULONG>(CKS_RW_PUBLIC_SESSION));
}

TEST_F(SessionTest, SecurityOfficerNeedsReadWriteSessionsOnly) {
  CK_SESSION_HANDLE ro = Open(CKF_SERIAL_SESSION);
  CK_SESSION_HANDLE rw = Open();
  EXPECT_THAT(Login(rw, CKU_SO, hsmd_->so_pin), RvIs(CKR_SESSION_READ_ONLY_EXISTS));
  ASSERT_THAT(f_->C_CloseSession(ro), RvIs(CKR_OK));
  ASSERT_THAT(Login(rw, CKU_SO, hsmd_->so_pin), RvIs(CKR_OK));
  EXPECT_EQ(State(rw), static_cast<CK_ULONG>(CKS_RW_SO_FUNCTIONS));
  CK_SESSION_HANDLE another_ro;
  EXPECT_THAT(f_->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &another_ro),
              RvIs(CKR_SESSION_READ_WRITE_SO_EXISTS));
  EXPECT_THAT(Login(rw, CKU_USER, hsmd_->user_pin), RvIs(CKR_USER_ANOTHER_ALREADY_LOGGED_IN));
  ASSERT_THAT(f_->C_Logout(rw), RvIs(CKR_OK));
  EXPECT_EQ(State(rw), static_cast<CK_ULONG>(CKS_RW_PUBLIC_SESSION));
}

TEST_F(SessionTest, ClosingTheLastSessionLogsOut) {
  CK_SESSION_HANDLE first = Open();
  ASSERT_THAT(Login(first, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_CloseSession(first), RvIs(CKR_OK));
  CK_SESSION_HANDLE second = Open();
  EXPECT_EQ(State(second), static_cast<CK_ULONG>(CKS_RW_PUBLIC_SESSION));
}

TEST_F(SessionTest, CloseAllSessionsClosesThemAndLogsOut) {
  CK_SESSION_HANDLE a = Open();
  CK_SESSION_HANDLE b = Open(CKF_SERIAL_SESSION);
  ASSERT_THAT(Login(a, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_CloseAllSessions(999), RvIs(CKR_SLOT_ID_INVALID));
  ASSERT_THAT(f_->C_CloseAllSessions(slot()), RvIs(CKR_OK));
  CK_SESSION_INFO info;
  EXPECT_THAT(f_->C_GetSessionInfo(a, &info), RvIs(CKR_SESSION_HANDLE_INVALID));
  EXPECT_THAT(f_->C_GetSessionInfo(b, &info), RvIs(CKR_SESSION_HANDLE_INVALID));
  EXPECT_EQ(State(Open()), static_cast<CK_ULONG>(CKS_RW_PUBLIC_SESSION));
}

TEST_F(SessionTest, TokenInfoCountsThisApplicationsSessions) {
  Open();
  Open(CKF_SERIAL_SESSION);
  CK_TOKEN_INFO info{};
  ASSERT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
  EXPECT_EQ(info.ulSessionCount, 2u);
  EXPECT_EQ(info.ulRwSessionCount, 1u);
}

TEST_F(SessionTest, RandomWorksWithoutLogin) {
  CK_SESSION_HANDLE session = Open(CKF_SERIAL_SESSION);
  std::vector<CK_BYTE> a(64), b(64);
  ASSERT_THAT(f_->C_GenerateRandom(session, a.data(), a.size()), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_GenerateRandom(session, b.data(), b.size()), RvIs(CKR_OK));
  EXPECT_NE(a, b);
  EXPECT_NE(a, std::vector<CK_BYTE>(64, 0));
  EXPECT_THAT(f_->C_GenerateRandom(session, nullptr, 16), RvIs(CKR_ARGUMENTS_BAD));
  EXPECT_THAT(f_->C_GenerateRandom(session, a.data(), 0), RvIs(CKR_OK));
  CK_BYTE seed[] = {1, 2, 3, 4};
  EXPECT_THAT(f_->C_SeedRandom(session, seed, sizeof(seed)), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_SeedRandom(session, nullptr, 4), RvIs(CKR_ARGUMENTS_BAD));
}

TEST_F(SessionTest, LargeRandomRequestsSpanSeveralCalls) {
  CK_SESSION_HANDLE session = Open();
  std::vector<CK_BYTE> big((3 << 20) + 5, 0);
  ASSERT_THAT(f_->C_GenerateRandom(session, big.data(), big.size()), RvIs(CKR_OK));
  // Each megabyte was filled, including the tail.
  for (size_t offset : {size_t{0}, size_t{1} << 20, size_t{2} << 20, big.size() - 64}) {
    EXPECT_NE(std::vector<CK_BYTE>(big.begin() + offset, big.begin() + offset + 64),
              std::vector<CK_BYTE>(64, 0))
        << offset;
  }
}

TEST_F(SessionTest, FindOnAnEmptyTokenFindsNothingAndFollowsTheOperationRules) {
  CK_SESSION_HANDLE session = Open();
  CK_OBJECT_HANDLE found[4];
  CK_ULONG count = 99;
  EXPECT_THAT(f_->C_FindObjects(session, found, 4, &count), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  ASSERT_THAT(f_->C_FindObjectsInit(session, nullptr, 0), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_FindObjectsInit(session, nullptr, 0), RvIs(CKR_OPERATION_ACTIVE));
  EXPECT_THAT(f_->C_FindObjects(session, nullptr, 4, &count), RvIs(CKR_ARGUMENTS_BAD));
  ASSERT_THAT(f_->C_FindObjects(session, found, 4, &count), RvIs(CKR_OK));
  EXPECT_EQ(count, 0u);
  EXPECT_THAT(f_->C_FindObjectsFinal(session), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_FindObjectsFinal(session), RvIs(CKR_OPERATION_NOT_INITIALIZED));
}

TEST_F(SessionTest, FunctionsNotServedSayNotSupported) {
  CK_SESSION_HANDLE session = Open();
  CK_ULONG length = 0;
  EXPECT_THAT(f_->C_GetOperationState(session, nullptr, &length), RvIs(CKR_FUNCTION_NOT_SUPPORTED));
  CK_BYTE state[4] = {0};
  EXPECT_THAT(f_->C_SetOperationState(session, state, sizeof(state), 0, 0), RvIs(CKR_FUNCTION_NOT_SUPPORTED));
  CK_BYTE part[4] = {0}, out[64];
  CK_ULONG out_length = sizeof(out);
  EXPECT_THAT(f_->C_DigestEncryptUpdate(session, part, sizeof(part), out, &out_length),
              RvIs(CKR_FUNCTION_NOT_SUPPORTED));
  EXPECT_THAT(f_->C_GetFunctionStatus(session), RvIs(CKR_FUNCTION_NOT_PARALLEL));
  EXPECT_THAT(f_->C_CancelFunction(session), RvIs(CKR_FUNCTION_NOT_PARALLEL));
  CK_SLOT_ID slot_id;
  EXPECT_THAT(f_->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot_id, nullptr), RvIs(CKR_FUNCTION_NOT_SUPPORTED));
}

TEST_F(SessionTest, BadTemplatesAndMechanismsAreRefusedBeforeTheWire) {
  CK_SESSION_HANDLE session = Open();
  CK_OBJECT_CLASS data_class = CKO_DATA;
  CK_ATTRIBUTE short_ulong[] = {{CKA_CLASS, &data_class, 4}};
  CK_OBJECT_HANDLE object;
  EXPECT_THAT(f_->C_CreateObject(session, short_ulong, 1, &object), RvIs(CKR_ATTRIBUTE_VALUE_INVALID));
  EXPECT_THAT(f_->C_CreateObject(session, nullptr, 1, &object), RvIs(CKR_ARGUMENTS_BAD));
  CK_MECHANISM pss_without_params{CKM_RSA_PKCS_PSS, nullptr, 0};
  EXPECT_THAT(f_->C_SignInit(session, &pss_without_params, 1), RvIs(CKR_MECHANISM_PARAM_INVALID));
  EXPECT_THAT(f_->C_SignInit(session, nullptr, 1), RvIs(CKR_ARGUMENTS_BAD));
}

TEST_F(SessionTest, ManyThreadsShareTheLibrary) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        CK_SESSION_HANDLE session;
        if (f_->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &session) != CKR_OK) {
          ++failures;
          continue;
        }
        CK_BYTE random[32];
        CK_SESSION_INFO info;
        if (f_->C_GenerateRandom(session, random, sizeof(random)) != CKR_OK) ++failures;
        if (f_->C_GetSessionInfo(session, &info) != CKR_OK || info.slotID != slot()) ++failures;
        if (f_->C_CloseSession(session) != CKR_OK) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  CK_TOKEN_INFO info{};
  ASSERT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
  EXPECT_EQ(info.ulSessionCount, 0u);
}

}  // namespace
}  // namespace hsm::testing
