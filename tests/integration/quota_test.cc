// Tenant quotas through the real library: at the limit a precise CK_RV and an
// audit record; nothing already stored is harmed.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "tests/integration/fixture.h"
#include "tests/integration/template_builder.h"

namespace hsm::testing {
namespace {

class QuotaTest : public FreshHsmdTest {
 protected:
  // hsmctl tenant quota dev OBJECTS SESSIONS APPLICATIONS
  void SetQuota(int objects, int sessions, int applications) {
    const std::string command = RunfilePath("server/hsmctl/hsmctl") + " --socket=" + hsmd_->admin_socket() +
                                " tenant quota dev " + std::to_string(objects) + " " + std::to_string(sessions) +
                                " " + std::to_string(applications) + " > /dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  std::string Audit() {
    std::ifstream file(hsmd_->data_dir() + "/audit.log");
    return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
};

TEST_F(QuotaTest, SessionsStopAtTheLimit) {
  SetQuota(0, 2, 0);
  CK_SESSION_HANDLE first = Open(), second = Open(), third;
  EXPECT_THAT(f_->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &third), RvIs(CKR_SESSION_COUNT));
  CK_BYTE random[8];
  EXPECT_THAT(f_->C_GenerateRandom(first, random, sizeof(random)), RvIs(CKR_OK));  // nothing harmed
  ASSERT_THAT(f_->C_CloseSession(second), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &third), RvIs(CKR_OK));
  EXPECT_THAT(Audit(), ::testing::HasSubstr("\"operation\":\"C_OpenSession\",\"result\":\"0x000000b1\""));
}

// The library defers C_CloseSession's RPC to its next call; an application
// that makes none does not keep the session (and its quota) for long.
TEST_F(QuotaTest, AClosedSessionLeavesTheQuotaWithoutAnotherCall) {
  SetQuota(0, 1, 0);
  CK_SESSION_HANDLE only = Open();
  ASSERT_THAT(f_->C_CloseSession(only), RvIs(CKR_OK));
  int holder = -1;  // another application's C_OpenSession, until the quota allows it
  for (int attempt = 0; attempt < 50 && holder != 0; ++attempt) {
    usleep(100 * 1000);
    holder = RunSessionHolder(*hsmd_);
  }
  EXPECT_EQ(holder, 0) << "the closed session still counted after 5 s";
}

// A deferred close rides on the next data call (DataRequest.close_first), or
// goes before it: either way hsmd has applied it when that call returns, not
// only when the heartbeat sends it a second later.
TEST_F(QuotaTest, ACloseIsAppliedByTheNextDataCall) {
  SetQuota(0, 2, 0);
  CK_SESSION_HANDLE kept = Open();
  CK_SESSION_HANDLE closed = Open();
  CK_MECHANISM sha256{CKM_SHA256, nullptr, 0};
  CK_BYTE data[] = "digest me", digest[32];
  CK_ULONG length = sizeof digest;
  // The first digest teaches the library that this C_DigestInit succeeds ...
  ASSERT_THAT(f_->C_DigestInit(kept, &sha256), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_Digest(kept, data, sizeof data, digest, &length), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_CloseSession(closed), RvIs(CKR_OK));
  // ... so the second is deferred, and C_Digest is this application's next RPC.
  length = sizeof digest;
  ASSERT_THAT(f_->C_DigestInit(kept, &sha256), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_Digest(kept, data, sizeof data, digest, &length), RvIs(CKR_OK));
  // Another application's session fits in the quota only if hsmd closed it.
  EXPECT_EQ(RunSessionHolder(*hsmd_), 0) << "the close did not travel with C_Digest";
}

TEST_F(QuotaTest, TokenObjectsStopAtTheLimit) {
  SetQuota(3, 0, 0);
  CK_SESSION_HANDLE session = Open();
  std::vector<CK_OBJECT_HANDLE> kept;
  for (int i = 0; i < 3; ++i) {
    Tmpl t;
    t.Ulong(CKA_CLASS, CKO_DATA).Bool(CKA_TOKEN, true).Bytes(CKA_LABEL, "kept-" + std::to_string(i));
    CK_OBJECT_HANDLE object;
    ASSERT_THAT(f_->C_CreateObject(session, t.data(), t.size(), &object), RvIs(CKR_OK));
    kept.push_back(object);
  }
  Tmpl one_more;
  one_more.Ulong(CKA_CLASS, CKO_DATA).Bool(CKA_TOKEN, true).Bytes(CKA_LABEL, "one-too-many");
  CK_OBJECT_HANDLE refused;
  EXPECT_THAT(f_->C_CreateObject(session, one_more.data(), one_more.size(), &refused), RvIs(CKR_DEVICE_MEMORY));
  // Session objects are not the token's: still allowed.
  Tmpl in_memory;
  in_memory.Ulong(CKA_CLASS, CKO_DATA).Bytes(CKA_LABEL, "session");
  EXPECT_THAT(f_->C_CreateObject(session, in_memory.data(), in_memory.size(), &refused), RvIs(CKR_OK));
  for (CK_OBJECT_HANDLE object : kept) {
    char label[32];
    CK_ATTRIBUTE read = {CKA_LABEL, label, sizeof(label)};
    EXPECT_THAT(f_->C_GetAttributeValue(session, object, &read, 1), RvIs(CKR_OK));
  }
  EXPECT_THAT(Audit(), ::testing::HasSubstr("\"operation\":\"C_CreateObject\",\"result\":\"0x00000031\""));
}

TEST_F(QuotaTest, ApplicationsStopAtTheLimit) {
  CK_SESSION_HANDLE session = Open();  // this process is the tenant's one application
  SetQuota(0, 0, 1);
  EXPECT_EQ(RunSessionHolder(*hsmd_), 5) << "the second application's C_OpenSession should have been refused";
  CK_BYTE random[8];
  EXPECT_THAT(f_->C_GenerateRandom(session, random, sizeof(random)), RvIs(CKR_OK));
  EXPECT_THAT(Audit(), ::testing::HasSubstr("\"operation\":\"C_Initialize\",\"result\":\"0x00000031\""));
}

// Without any tenant quota, one application still cannot open sessions until
// hsmd's memory runs out: --max_sessions_per_application bounds it, and
// CK_TOKEN_INFO says so. Other applications have their own allowance.
class SessionLimitTest : public QuotaTest {
 protected:
  HsmdProcess::Options Options() override {
    return HsmdProcess::WithFlags({"--max_sessions_per_application=3"});
  }
};

TEST_F(SessionLimitTest, OneApplicationsSessionsStopAtTheLimit) {
  CK_TOKEN_INFO info;
  ASSERT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
  EXPECT_EQ(info.ulMaxSessionCount, 3u);
  EXPECT_EQ(info.ulMaxRwSessionCount, 3u);
  CK_SESSION_HANDLE sessions[3] = {Open(), Open(), Open()};
  CK_SESSION_HANDLE refused = CK_INVALID_HANDLE;
  EXPECT_THAT(f_->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &refused), RvIs(CKR_SESSION_COUNT));
  EXPECT_EQ(RunSessionHolder(*hsmd_), 0) << "another application's C_OpenSession was refused";
  CK_BYTE random[8];
  EXPECT_THAT(f_->C_GenerateRandom(sessions[0], random, sizeof(random)), RvIs(CKR_OK));  // nothing harmed
  // The closed read-write session stays in hsmd as the library's spare: a
  // read-only open does not fit it, is refused by hsmd, and the library gives
  // the spare back and tries again.
  ASSERT_THAT(f_->C_CloseSession(sessions[1]), RvIs(CKR_OK));
  CK_SESSION_HANDLE again = CK_INVALID_HANDLE;
  EXPECT_THAT(f_->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &again), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_GenerateRandom(again, random, sizeof(random)), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_CloseSession(again), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_OpenSession(slot(), CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &again),
              RvIs(CKR_OK));
}

// A tenant without a session quota of its own is still bounded, across all
// its applications, by --max_sessions_per_tenant; a quota replaces it.
class TenantSessionLimitTest : public QuotaTest {
 protected:
  HsmdProcess::Options Options() override {
    return HsmdProcess::WithFlags({"--max_sessions_per_tenant=3", "--max_sessions_per_application=0"});
  }
};

TEST_F(TenantSessionLimitTest, ATenantsApplicationsShareTheDefaultLimit) {
  CK_TOKEN_INFO info;
  ASSERT_THAT(f_->C_GetTokenInfo(slot(), &info), RvIs(CKR_OK));
  EXPECT_EQ(info.ulMaxSessionCount, static_cast<CK_ULONG>(CK_EFFECTIVELY_INFINITE));
  // Another application holds a session (it exits without C_Finalize, so
  // hsmd keeps it until --app_timeout).
  ASSERT_EQ(RunSessionHolder(*hsmd_), 0);
  CK_SESSION_HANDLE first = Open(), second = Open(), refused = CK_INVALID_HANDLE;
  EXPECT_THAT(f_->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &refused), RvIs(CKR_SESSION_COUNT));
  CK_BYTE random[8];
  EXPECT_THAT(f_->C_GenerateRandom(second, random, sizeof(random)), RvIs(CKR_OK));
  SetQuota(0, 10, 0);
  CK_SESSION_HANDLE third = CK_INVALID_HANDLE;
  EXPECT_THAT(f_->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &third), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_GenerateRandom(first, random, sizeof(random)), RvIs(CKR_OK));
}

// A tenant without an application quota is bounded by
// --max_applications_per_tenant; a quota replaces it.
class TenantApplicationLimitTest : public QuotaTest {
 protected:
  HsmdProcess::Options Options() override { return HsmdProcess::WithFlags({"--max_applications_per_tenant=1"}); }
};

TEST_F(TenantApplicationLimitTest, ATenantsApplicationsStopAtTheDefaultLimit) {
  CK_SESSION_HANDLE session = Open();  // this process is the tenant's one application
  EXPECT_EQ(RunSessionHolder(*hsmd_), 5) << "the second application's C_OpenSession should have been refused";
  SetQuota(0, 0, 2);
  EXPECT_EQ(RunSessionHolder(*hsmd_), 0) << "the quota should have replaced the default";
  CK_BYTE random[8];
  EXPECT_THAT(f_->C_GenerateRandom(session, random, sizeof(random)), RvIs(CKR_OK));
}

}  // namespace
}  // namespace hsm::testing
