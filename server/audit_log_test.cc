#include "server/audit_log.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "gtest/gtest.h"

namespace hsm::server {
namespace {

std::string TempPath() {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/auditXXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  return std::string(mkdtemp(buf.data())) + "/audit.log";
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream file(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(file, line)) lines.push_back(line);
  return lines;
}

void Write(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream file(path, std::ios::trunc);
  for (const std::string& line : lines) file << line << "\n";
}

std::string MakeLog(int records) {
  const std::string path = TempPath();
  auto log = AuditLog::Open(path);
  for (int i = 0; i < records; ++i) {
    AuditEvent event;
    event.operation = "C_Login";
    event.tenant = "dev";
    event.client = "tester \"quoted\"";
    event.session = i;
    event.result = AuditResult(i % 2 ? 0xa0 : 0);
    (*log)->Record(event);
  }
  return path;
}

TEST(AuditLogTest, AnUntouchedLogVerifies) {
  const std::string path = MakeLog(5);
  AuditVerification result = AuditLog::Verify(path);
  EXPECT_TRUE(result.intact) << result.problem;
  EXPECT_EQ(result.records, 5u);
  EXPECT_NE(Lines(path)[1].find("\"result\":\"0x000000a0\""), std::string::npos);
}

TEST(AuditLogTest, ReopeningContinuesTheChain) {
  const std::string path = MakeLog(3);
  {
    auto log = AuditLog::Open(path);
    ASSERT_TRUE(log.ok());
    (*log)->Record(AuditEvent{"C_Logout", "dev", "c", 1, 1, 0, "", "", 0, false, "CKR_OK", ""});
  }
  EXPECT_TRUE(AuditLog::Verify(path).intact);
  EXPECT_EQ(AuditLog::Verify(path).records, 4u);
}

TEST(AuditLogTest, AChangedRecordIsFoundAndNamed) {
  const std::string path = MakeLog(5);
  std::vector<std::string> lines = Lines(path);
  lines[2].replace(lines[2].find("C_Login"), 7, "C_Logon");
  Write(path, lines);
  AuditVerification result = AuditLog::Verify(path);
  EXPECT_FALSE(result.intact);
  EXPECT_EQ(result.bad_line, 3u);
  EXPECT_NE(result.problem.find("changed"), std::string::npos);
}

TEST(AuditLogTest, ARemovedRecordIsFound) {
  const std::string path = MakeLog(5);
  std::vector<std::string> lines = Lines(path);
  lines.erase(lines.begin() + 1);
  Write(path, lines);
  AuditVerification result = AuditLog::Verify(path);
  EXPECT_FALSE(result.intact);
  EXPECT_EQ(result.bad_line, 2u);
}

TEST(AuditLogTest, ReorderedRecordsAreFound) {
  const std::string path = MakeLog(5);
  std::vector<std::string> lines = Lines(path);
  std::swap(lines[3], lines[4]);
  Write(path, lines);
  AuditVerification result = AuditLog::Verify(path);
  EXPECT_FALSE(result.intact);
  EXPECT_EQ(result.bad_line, 4u);
}

TEST(AuditLogTest, ATruncatedTailIsNotALie) {
  // Removing the last records cannot be seen from the file alone; what
  // remains still verifies, and the count says how much there is.
  const std::string path = MakeLog(5);
  std::vector<std::string> lines = Lines(path);
  lines.pop_back();
  Write(path, lines);
  EXPECT_TRUE(AuditLog::Verify(path).intact);
  EXPECT_EQ(AuditLog::Verify(path).records, 4u);
}

TEST(AuditLogTest, AClientsLabelThatIsNotUtf8StaysValidJson) {
  const std::string path = TempPath();
  {
    auto log = AuditLog::Open(path);
    ASSERT_TRUE(log.ok());
    AuditEvent event{"C_SignInit", "dev", "c", 1, 1, 7, "", "", 0, false, "CKR_OK", ""};
    // Well-formed (é, €, an emoji), then a lone continuation byte, an overlong
    // '/', a surrogate, a byte that never starts a sequence and a sequence cut
    // short by the end of the label.
    event.object_label = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\x80|\xc0\xaf|\xed\xa0\x80|\xff|\xe2\x82";
    (*log)->Record(event);
  }
  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"label\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\\ufffd|\\ufffd\\ufffd|"
                          "\\ufffd\\ufffd\\ufffd|\\ufffd|\\ufffd\\ufffd\""),
            std::string::npos)
      << lines[0];
  EXPECT_TRUE(AuditLog::Verify(path).intact);
}

TEST(AuditLogTest, AHugeLabelOrIdIsClipped) {
  const std::string path = TempPath();
  {
    auto log = AuditLog::Open(path);
    ASSERT_TRUE(log.ok());
    AuditEvent event{"C_CreateObject", "dev", "c", 1, 1, 7, "", "", 0, false, "CKR_OK", ""};
    event.object_label = std::string(1 << 20, 'L');
    event.object_id_hex = std::string(1 << 20, 'a');
    (*log)->Record(event);
  }
  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_LT(lines[0].size(), 1024u);
  EXPECT_NE(lines[0].find("\"label\":\"" + std::string(256, 'L') + "...(1048576 bytes)\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"id\":\"" + std::string(256, 'a') + "...(1048576 bytes)\""), std::string::npos);
  EXPECT_TRUE(AuditLog::Verify(path).intact);
}

TEST(AuditLogTest, AnIncompleteLastLineIsRemovedAndSaidSo) {
  // A write cut short (a full disk before this log cut its lines back, or
  // hsmd killed inside write(2)) leaves a line without its newline.
  const std::string path = MakeLog(3);
  const std::string whole = Lines(path)[2];
  std::ofstream(path, std::ios::app) << whole.substr(0, 100);
  ASSERT_FALSE(AuditLog::Verify(path).intact);
  {
    auto log = AuditLog::Open(path);
    ASSERT_TRUE(log.ok()) << log.status();
    (*log)->Record(AuditEvent{"C_Logout", "dev", "c", 1, 1, 0, "", "", 0, false, "CKR_OK", ""});
  }
  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[2], whole);
  EXPECT_NE(lines[3].find("\"operation\":\"audit.incomplete_line_removed\""), std::string::npos) << lines[3];
  EXPECT_NE(lines[3].find("of 100 bytes"), std::string::npos) << lines[3];
  EXPECT_NE(lines[4].find("\"operation\":\"C_Logout\""), std::string::npos);
  EXPECT_TRUE(AuditLog::Verify(path).intact);
  EXPECT_EQ(AuditLog::Verify(path).records, 5u);
}

TEST(AuditLogTest, RecordsThatCannotBeWrittenAreCountedAndTheFileKeepsWholeLines) {
  // In a child, whose file size cap (ulimit -f) lets a record in only in
  // part: the part must be cut off, the log must say it cannot be written,
  // and once the cap is lifted the trail must count what was lost.
  const std::string path = MakeLog(3);
  const pid_t child = fork();
  if (child == 0) {
    auto log = AuditLog::Open(path);
    if (!log.ok()) _exit(10);
    signal(SIGXFSZ, SIG_IGN);
    struct stat file;
    struct rlimit limit;
    if (stat(path.c_str(), &file) != 0 || getrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(11);
    limit.rlim_cur = static_cast<rlim_t>(file.st_size + 150);
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(12);
    if (!(*log)->Writable()) _exit(13);
    (*log)->Record(AuditEvent{"C_SignInit", "dev", "c", 1, 1, 7, "key", "", 0, false, "CKR_OK", ""});
    (*log)->Record(AuditEvent{"C_SignInit", "dev", "c", 1, 1, 7, "key", "", 0, false, "CKR_OK", ""});
    if ((*log)->Writable() || !(*log)->FailedForRoom()) _exit(14);
    struct stat after;
    if (stat(path.c_str(), &after) != 0 || after.st_size != file.st_size) _exit(15);  // no part line left
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(16);
    if (!(*log)->Writable()) _exit(17);  // writes the record of the lost ones
    (*log)->Record(AuditEvent{"C_Logout", "dev", "c", 1, 1, 0, "", "", 0, false, "CKR_OK", ""});
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "the child's check that failed";
  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_NE(lines[3].find("\"operation\":\"audit.records_lost\""), std::string::npos) << lines[3];
  EXPECT_NE(lines[3].find("2 records before this one could not be written (File too large)"), std::string::npos)
      << lines[3];
  EXPECT_NE(lines[4].find("\"operation\":\"C_Logout\""), std::string::npos);
  EXPECT_TRUE(AuditLog::Verify(path).intact);
  EXPECT_EQ(AuditLog::Verify(path).records, 5u);
}

}  // namespace
}  // namespace hsm::server
