// The fixture of the integration tests: one real hsmd per test suite, the
// real client library loaded once, and a fresh application (C_Initialize /
// C_Finalize) around every test.
#ifndef HSM_TESTS_INTEGRATION_FIXTURE_H_
#define HSM_TESTS_INTEGRATION_FIXTURE_H_

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/hsmd_process.h"
#include "tests/testing/module.h"
#include "tests/testing/rv.h"

namespace hsm::testing {

class Pkcs11Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    hsmd_ = HsmdProcess::Start().release();
    ASSERT_NE(hsmd_, nullptr);
    module_ = Module::Load().release();
    ASSERT_NE(module_, nullptr);
  }
  static void TearDownTestSuite() {
    delete module_;
    module_ = nullptr;
    delete hsmd_;
    hsmd_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(hsmd_, nullptr);
    setenv("HSM_SERVER", hsmd_->address().c_str(), 1);
    f_ = module_->functions();
    ASSERT_THAT(f_->C_Initialize(nullptr), RvIs(CKR_OK));
  }
  void TearDown() override { f_->C_Finalize(nullptr); }

  CK_SESSION_HANDLE Open(CK_FLAGS flags = CKF_SERIAL_SESSION | CKF_RW_SESSION) {
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    EXPECT_THAT(f_->C_OpenSession(slot(), flags, nullptr, nullptr, &session), RvIs(CKR_OK));
    return session;
  }
  CK_RV Login(CK_SESSION_HANDLE session, CK_USER_TYPE user, const std::string& pin) {
    return f_->C_Login(session, user, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data())),
                       pin.size());
  }
  CK_ULONG State(CK_SESSION_HANDLE session) {
    CK_SESSION_INFO info{};
    EXPECT_THAT(f_->C_GetSessionInfo(session, &info), RvIs(CKR_OK));
    return info.state;
  }
  CK_SLOT_ID slot() const { return hsmd_->slot_id; }

  static HsmdProcess* hsmd_;
  static Module* module_;
  CK_FUNCTION_LIST* f_ = nullptr;
};

inline HsmdProcess* Pkcs11Test::hsmd_ = nullptr;
inline Module* Pkcs11Test::module_ = nullptr;

// Tests that change hsmd's state get an hsmd of their own, started before each
// test with the flags Options() gives.
class FreshHsmdTest : public Pkcs11Test {
 protected:
  static void SetUpTestSuite() {
    module_ = Module::Load().release();
    ASSERT_NE(module_, nullptr);
  }
  virtual HsmdProcess::Options Options() { return HsmdProcess::Options(); }
  void SetUp() override {
    hsmd_ = HsmdProcess::Start(Options()).release();
    Pkcs11Test::SetUp();
  }
  void TearDown() override {
    Pkcs11Test::TearDown();
    delete hsmd_;
    hsmd_ = nullptr;
  }
};

// Runs tests/integration/other_application (another application, in a
// process of its own) against `hsmd` on `slot` with `action` ("hold", or
// "destroy" and a handle); its exit status.
inline int RunOtherApplication(const HsmdProcess& hsmd, CK_SLOT_ID slot, const std::vector<std::string>& action) {
  std::vector<std::string> args = {"other_application", ModulePath(), std::to_string(slot), hsmd.user_pin};
  args.insert(args.end(), action.begin(), action.end());
  pid_t child = fork();
  if (child == 0) {
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(RunfilePath("tests/integration/other_application").c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// An application that opens a session, logs in and exits without
// C_Finalize; its exit status (5: C_OpenSession failed).
inline int RunSessionHolder(const HsmdProcess& hsmd) { return RunOtherApplication(hsmd, hsmd.slot_id, {"hold"}); }

// A blank-padded PKCS #11 text field as a string without its padding.
template <size_t N>
std::string Unpad(const CK_UTF8CHAR (&field)[N]) {
  std::string text(reinterpret_cast<const char*>(field), N);
  return text.substr(0, text.find_last_not_of(' ') + 1);
}

}  // namespace hsm::testing

#endif  // HSM_TESTS_INTEGRATION_FIXTURE_H_
