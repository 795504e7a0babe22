// hsmd on a disk without room, made real with a cap on the size of the files
// it may write (prlimit RLIMIT_FSIZE on the running hsmd, as `ulimit -f`):
// writes are refused with CKR_DEVICE_MEMORY once the journal is full too, no
// acknowledged object is lost, writes resume by themselves when room comes
// back, and the audit trail either stops the calls it cannot record or
// counts them (--on_audit_failure).
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/crypto_support.h"
#include "tests/integration/fixture.h"

namespace hsm::testing {
namespace {

// Caps the size of the files `hsmd` writes at `bytes`; 0 lifts the cap.
bool CapFileSizes(const HsmdProcess& hsmd, rlim_t bytes) {
  struct rlimit limit;
  if (prlimit(hsmd.pid(), RLIMIT_FSIZE, nullptr, &limit) != 0) return false;
  limit.rlim_cur = bytes == 0 ? limit.rlim_max : bytes;
  return prlimit(hsmd.pid(), RLIMIT_FSIZE, &limit, nullptr) == 0;
}

off_t FileSize(const std::string& path) {
  struct stat file;
  return stat(path.c_str(), &file) == 0 ? file.st_size : -1;
}

std::vector<std::string> AuditLines(const HsmdProcess& hsmd) {
  std::ifstream file(hsmd.data_dir() + "/audit.log");
  std::vector<std::string> lines;
  for (std::string line; std::getline(file, line);) lines.push_back(line);
  return lines;
}

class DiskFullTest : public FreshHsmdTest {
 protected:
  HsmdProcess::Options Options() override { return HsmdProcess::WithFlags(flags_); }

  void SetUp() override {
    FreshHsmdTest::SetUp();
    session_ = Open();
    ASSERT_THAT(Login(session_, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  }

  CK_RV CreateDataObject(int i) {
    const std::string value(400, 'd');
    CK_OBJECT_CLASS data_class = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    const std::string id = "object " + std::to_string(i);
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &data_class, sizeof(data_class)},
                        {CKA_TOKEN, &yes, sizeof(yes)},
                        {CKA_LABEL, const_cast<char*>(kLabel), sizeof(kLabel) - 1},
                        {CKA_APPLICATION, const_cast<char*>(id.data()), id.size()},
                        {CKA_VALUE, const_cast<char*>(value.data()), value.size()}};
    CK_OBJECT_HANDLE object;
    return f_->C_CreateObject(session_, t, 5, &object);
  }

  CK_ULONG CountDataObjects() {
    CK_ATTRIBUTE t[] = {{CKA_LABEL, const_cast<char*>(kLabel), sizeof(kLabel) - 1}};
    EXPECT_THAT(f_->C_FindObjectsInit(session_, t, 1), RvIs(CKR_OK));
    CK_ULONG total = 0, found = 0;
    std::vector<CK_OBJECT_HANDLE> page(1000);
    do {
      EXPECT_THAT(f_->C_FindObjects(session_, page.data(), page.size(), &found), RvIs(CKR_OK));
      total += found;
    } while (found > 0);
    EXPECT_THAT(f_->C_FindObjectsFinal(session_), RvIs(CKR_OK));
    return total;
  }

  // One P-256 signature with a session key: C_SignInit (audited; the library
  // defers it into C_Sign once it has seen it succeed), C_Sign. The first
  // failure's CK_RV, or CKR_OK.
  CK_RV SignOnce() {
    if (key_ == CK_INVALID_HANDLE) {
      CK_MECHANISM generate = Mech(CKM_EC_KEY_PAIR_GEN);
      CK_ATTRIBUTE public_template[] = {
          {CKA_EC_PARAMS, const_cast<char*>(kP256Params.data()), kP256Params.size()}};
      CK_BBOOL yes = CK_TRUE;
      CK_ATTRIBUTE private_template[] = {{CKA_SIGN, &yes, sizeof(yes)}};
      CK_OBJECT_HANDLE public_key;
      CK_RV rv = f_->C_GenerateKeyPair(session_, &generate, public_template, 1, private_template, 1, &public_key,
                                       &key_);
      if (rv != CKR_OK) return rv;
    }
    CK_MECHANISM ecdsa = Mech(CKM_ECDSA);
    CK_RV rv = f_->C_SignInit(session_, &ecdsa, key_);
    if (rv != CKR_OK) return rv;
    std::string hash(32, 'h'), signature(128, '\0');
    CK_ULONG length = signature.size();
    return f_->C_Sign(session_, In(hash), hash.size(), In(signature), &length);
  }

  CK_RV Random() {
    CK_BYTE bytes[16];
    return f_->C_GenerateRandom(session_, bytes, sizeof(bytes));
  }

  static constexpr char kLabel[] = "disk-full-test";
  std::vector<std::string> flags_;
  CK_SESSION_HANDLE session_ = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE key_ = CK_INVALID_HANDLE;
};

TEST_F(DiskFullTest, AuditedCallsAreRefusedWhileTheAuditLogCannotBeWrittenAndResumeAfter) {
  // The cap applies to hsmd's log file (its stderr here) too: the audit log
  // grows larger than it first, so that the log still has room.
  for (int i = 0; i < 20; ++i) ASSERT_THAT(SignOnce(), RvIs(CKR_OK));
  ASSERT_GT(FileSize(hsmd_->data_dir() + "/audit.log"), static_cast<off_t>(hsmd_->Log().size() + 4096));
  const size_t lines_before = AuditLines(*hsmd_).size();
  // Signing writes nothing but the audit log, and the journal's files are
  // larger than the cap only if nothing is stored meanwhile.
  ASSERT_TRUE(CapFileSizes(*hsmd_, FileSize(hsmd_->data_dir() + "/audit.log")));
  // The first record that cannot be written is the one of a call that ran.
  EXPECT_THAT(SignOnce(), RvIs(CKR_OK));
  EXPECT_THAT(SignOnce(), RvIs(CKR_DEVICE_MEMORY));
  EXPECT_THAT(SignOnce(), RvIs(CKR_DEVICE_MEMORY));
  EXPECT_THAT(Random(), RvIs(CKR_OK));  // not audited: served
  EXPECT_EQ(AuditLines(*hsmd_).size(), lines_before);
  EXPECT_NE(hsmd_->Log().find("cannot write to the audit log"), std::string::npos) << hsmd_->Log();

  ASSERT_TRUE(CapFileSizes(*hsmd_, 0));
  EXPECT_THAT(SignOnce(), RvIs(CKR_OK));
  const std::vector<std::string> lines = AuditLines(*hsmd_);
  ASSERT_EQ(lines.size(), lines_before + 2);
  EXPECT_NE(lines[lines_before].find("\"operation\":\"audit.records_lost\""), std::string::npos);
  EXPECT_NE(lines[lines_before].find("\"1 records before this one could not be written (File too large)\""),
            std::string::npos)
      << lines[lines_before];
  EXPECT_NE(lines[lines_before + 1].find("\"operation\":\"C_SignInit\""), std::string::npos);
}

class DiskFullContinuingTest : public DiskFullTest {
 protected:
  DiskFullContinuingTest() { flags_ = {"--on_audit_failure=continue"}; }
};

TEST_F(DiskFullContinuingTest, AuditedCallsRunUnrecordedAndTheTrailCountsThem) {
  ASSERT_THAT(SignOnce(), RvIs(CKR_OK));
  const size_t lines_before = AuditLines(*hsmd_).size();
  ASSERT_TRUE(CapFileSizes(*hsmd_, FileSize(hsmd_->data_dir() + "/audit.log")));
  for (int i = 0; i < 5; ++i) EXPECT_THAT(SignOnce(), RvIs(CKR_OK));
  ASSERT_TRUE(CapFileSizes(*hsmd_, 0));
  EXPECT_THAT(SignOnce(), RvIs(CKR_OK));
  const std::vector<std::string> lines = AuditLines(*hsmd_);
  ASSERT_EQ(lines.size(), lines_before + 2);
  EXPECT_NE(lines[lines_before].find("\"5 records before this one could not be written (File too large)\""),
            std::string::npos)
      << lines[lines_before];
}

TEST_F(DiskFullContinuingTest, WritesAreRefusedWithDeviceMemoryLoseNothingAndResumeWithRoom) {
  // The cap must leave the journal's two 4 MiB files whole (they are written
  // in place): LMDB's data.mdb grows up to it, then cannot take the journal,
  // whose file then fills before creations are refused.
  ASSERT_TRUE(CapFileSizes(*hsmd_, rlim_t{4} << 20));
  int acknowledged = 0;
  CK_RV refused = CKR_OK;
  for (int i = 0; i < 40000 && refused == CKR_OK; ++i) {
    refused = CreateDataObject(i);
    if (refused == CKR_OK) ++acknowledged;
  }
  ASSERT_THAT(refused, RvIs(CKR_DEVICE_MEMORY));
  EXPECT_NE(hsmd_->Log().find("LMDB cannot take the journal"), std::string::npos) << hsmd_->Log();
  for (int i = 0; i < 20; ++i) EXPECT_THAT(CreateDataObject(-1), RvIs(CKR_DEVICE_MEMORY));  // and stays so
  // One log line for them all (the log must not fill the disk by itself).
  const std::string log = hsmd_->Log();
  size_t lines = 0;
  for (size_t at = log.find("no room, answered"); at != std::string::npos; at = log.find("no room, answered", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << log;
  // Reads and other calls go on, and see every acknowledged object.
  EXPECT_EQ(CountDataObjects(), static_cast<CK_ULONG>(acknowledged));
  EXPECT_THAT(SignOnce(), RvIs(CKR_OK));

  // Room again: the next creation works, without a restart.
  ASSERT_TRUE(CapFileSizes(*hsmd_, 0));
  EXPECT_THAT(CreateDataObject(acknowledged), RvIs(CKR_OK));
  EXPECT_EQ(CountDataObjects(), static_cast<CK_ULONG>(acknowledged + 1));

  // Killed, not stopped: what LMDB lacks comes back from the journal. (A
  // call while hsmd is down lets the library see the connection gone.)
  hsmd_->Stop(SIGKILL);
  EXPECT_THAT(Random(), RvIs(CKR_DEVICE_ERROR));
  ASSERT_TRUE(hsmd_->Restart());
  session_ = Open();
  ASSERT_THAT(Login(session_, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  EXPECT_EQ(CountDataObjects(), static_cast<CK_ULONG>(acknowledged + 1));
}

}  // namespace
}  // namespace hsm::testing
