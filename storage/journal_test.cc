// The journal as hsmd relies on it: an acknowledged write survives the
// process dying before LMDB has it, reads see journaled writes at once, a torn
// last record is dropped, and the two files are reused without losing or
// replaying anything. A "crash" is a forked child that writes and then
// _exit()s: no destructor, no flush.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/test_dir.h"
#include "storage/journal.h"
#include "storage/lmdb_env.h"

namespace hsm::storage {
namespace {

// Journaled writes stay out of LMDB until Flush (or the process ends).
LmdbEnv::Options NoBackgroundFlush(size_t file_size = Journal::kDefaultFileSize) {
  LmdbEnv::Options options;
  options.flush_interval = absl::Hours(1);
  options.journal_file_size = file_size;
  return options;
}

// Runs `work` in a child that dies without cleaning up; true if it got to the end.
bool InCrashingChild(const std::function<bool()>& work) {
  pid_t child = fork();
  if (child == 0) _exit(work() ? 0 : 1);
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// In a child that then dies unflushed: opens `dir`, runs `work` on database
// "t"; true if everything succeeded.
bool InCrashingChildWithDatabase(const std::string& dir, const LmdbEnv::Options& options,
                                 const std::function<bool(LmdbEnv&, MDB_dbi)>& work) {
  return InCrashingChild([&] {
    auto env = LmdbEnv::Open(dir, options);
    if (!env.ok()) return false;
    auto db = (*env)->OpenDatabase("t");
    if (!db.ok() || !work(**env, *db)) return false;
    env->release();  // dies with the child, unflushed
    return true;
  });
}

bool WriteKeys(LmdbEnv& env, MDB_dbi db, int from, int to, size_t value_size = 16) {
  for (int i = from; i < to; ++i) {
    const std::string value = absl::StrCat("value ", i, std::string(value_size, 'v'));
    if (!env.Write([&](Txn& txn) { return txn.Put(db, absl::StrCat("key", 1000 + i), value); }).ok()) return false;
  }
  return true;
}

// The values under "key..." in key order, as a read sees them.
std::vector<std::string> Keys(LmdbEnv& env, MDB_dbi db) {
  std::vector<std::string> keys;
  EXPECT_TRUE(env.Read([&](Txn& txn) {
    return txn.ForEachWithPrefix(db, "key", [&](std::string_view key, std::string_view) {
      keys.emplace_back(key);
      return true;
    });
  }).ok());
  return keys;
}

// The keys a fresh open of `dir` finds (replaying its journal), in order.
std::vector<std::string> KeysAfterReopen(const std::string& dir, const LmdbEnv::Options& options) {
  auto env = LmdbEnv::Open(dir, options);
  EXPECT_TRUE(env.ok()) << env.status();
  if (!env.ok()) return {};
  auto db = (*env)->OpenDatabase("t");
  EXPECT_TRUE(db.ok());
  if (!db.ok()) return {};
  return Keys(**env, *db);
}

// The first `size` bytes of journal-0 in `dir`.
std::string ReadJournal(const std::string& dir, size_t size) {
  std::string bytes(size, '\0');
  int fd = open((dir + "/journal-0").c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  if (fd < 0) return bytes;
  EXPECT_EQ(pread(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  close(fd);
  return bytes;
}

// Overwrites journal-0 in `dir` at `offset` with `bytes`: damage the disk
// did while the process died.
void DamageJournal(const std::string& dir, off_t offset, std::string_view bytes) {
  int fd = open((dir + "/journal-0").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(pwrite(fd, bytes.data(), bytes.size(), offset), static_cast<ssize_t>(bytes.size()));
  close(fd);
}

std::vector<std::string> ExpectedKeys(int from, int to) {
  std::vector<std::string> keys;
  for (int i = from; i < to; ++i) keys.push_back(absl::StrCat("key", 1000 + i));
  return keys;
}

TEST(JournalTest, AcknowledgedWritesSurviveACrashBeforeLmdbHasThem) {
  const std::string dir = MakeTestDir("journal");
  ASSERT_TRUE(InCrashingChildWithDatabase(dir, NoBackgroundFlush(), [&](LmdbEnv& env, MDB_dbi db) {
    return WriteKeys(env, db, 0, 50);
  }));
  // LMDB alone does not have them: only the journal does.
  LmdbEnv::Options without_journal;
  without_journal.journal = false;
  EXPECT_TRUE(KeysAfterReopen(dir, without_journal).empty());
  EXPECT_EQ(KeysAfterReopen(dir, NoBackgroundFlush()), ExpectedKeys(0, 50));
}

TEST(JournalTest, ReadsMergeJournaledChangesWithLmdbInKeyOrder) {
  auto env = LmdbEnv::Open(MakeTestDir("journal"), NoBackgroundFlush());
  ASSERT_TRUE(env.ok());
  auto db = (*env)->OpenDatabase("t");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*env)->Write([&](Txn& txn) -> absl::Status {
    for (const char* key : {"key-a", "key-c", "key-e"}) {
      absl::Status put = txn.Put(*db, key, "old");
      if (!put.ok()) return put;
    }
    return absl::OkStatus();
  }).ok());
  ASSERT_TRUE((*env)->Flush().ok());  // those are in LMDB now
  ASSERT_TRUE((*env)->Write([&](Txn& txn) -> absl::Status {
    absl::Status status = txn.Put(*db, "key-b", "new");
    if (status.ok()) status = txn.Delete(*db, "key-c");
    if (status.ok()) status = txn.Put(*db, "key-e", "changed");
    if (status.ok()) status = txn.Put(*db, "key-f", "new");
    return status;
  }).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE((*env)->Read([&](Txn& txn) -> absl::Status {
    auto deleted = txn.Get(*db, "key-c");
    if (!deleted.ok()) return deleted.status();
    EXPECT_FALSE(deleted->has_value());
    return txn.ForEachWithPrefix(*db, "key", [&](std::string_view key, std::string_view value) {
      seen.push_back(std::string(key) + "=" + std::string(value));
      return true;
    });
  }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"key-a=old", "key-b=new", "key-e=changed", "key-f=new"}));
  // A write sees what the writes before it did, before LMDB has any of it.
  std::string before;
  ASSERT_TRUE((*env)->Write([&](Txn& txn) -> absl::Status {
    auto got = txn.Get(*db, "key-f");
    if (!got.ok()) return got.status();
    before = std::string(got->value_or("missing"));
    return txn.Put(*db, "key-f", before + "+1");
  }).ok());
  EXPECT_EQ(before, "new");
  ASSERT_TRUE((*env)->Flush().ok());
  ASSERT_TRUE((*env)->Read([&](Txn& txn) -> absl::Status {
    auto got = txn.Get(*db, "key-f");
    if (!got.ok()) return got.status();
    EXPECT_EQ(got->value_or("missing"), "new+1");
    return absl::OkStatus();
  }).ok());
}

TEST(JournalTest, ATornLastRecordIsDroppedAndWritingGoesOn) {
  const std::string dir = MakeTestDir("journal");
  ASSERT_TRUE(InCrashingChildWithDatabase(dir, NoBackgroundFlush(), [&](LmdbEnv& env, MDB_dbi db) {
    return WriteKeys(env, db, 0, 3);
  }));
  // Tear the third record: its last byte never reached the disk.
  const size_t end = ReadJournal(dir, 4096).find_last_not_of('\0');
  ASSERT_NE(end, std::string::npos);
  DamageJournal(dir, static_cast<off_t>(end), std::string_view("\0", 1));

  ASSERT_TRUE(InCrashingChildWithDatabase(dir, NoBackgroundFlush(), [&](LmdbEnv& env, MDB_dbi db) {
    if (Keys(env, db) != ExpectedKeys(0, 2)) return false;
    // Numbering goes on after the records that were applied.
    return WriteKeys(env, db, 10, 13);
  }));
  std::vector<std::string> expected = ExpectedKeys(0, 2);
  for (const std::string& key : ExpectedKeys(10, 13)) expected.push_back(key);
  EXPECT_EQ(KeysAfterReopen(dir, NoBackgroundFlush()), expected);
}

TEST(JournalTest, ARecordBehindAGapIsNeitherReplayedNorJoinedToTheNextChain) {
  // Records 1 to 3, one sector each; then record 2 "never reached the disk"
  // while record 3 did (concurrent writes may land in any order).
  const std::string dir = MakeTestDir("journal");
  ASSERT_TRUE(InCrashingChildWithDatabase(dir, NoBackgroundFlush(), [&](LmdbEnv& env, MDB_dbi db) {
    return WriteKeys(env, db, 0, 3);
  }));
  DamageJournal(dir, Journal::kAlignment, std::string(Journal::kAlignment, '\0'));

  // Only record 1 comes back. The next record written, two sectors long,
  // starts at offset 0 and ends where record 3 lay: had record 3 stayed, a
  // replay would take it for the next record of the chain.
  ASSERT_TRUE(InCrashingChildWithDatabase(dir, NoBackgroundFlush(), [&](LmdbEnv& env, MDB_dbi db) {
    if (Keys(env, db) != ExpectedKeys(0, 1)) return false;
    return WriteKeys(env, db, 5, 6, 600);
  }));
  std::vector<std::string> expected = ExpectedKeys(0, 1);
  expected.push_back("key1005");
  EXPECT_EQ(KeysAfterReopen(dir, NoBackgroundFlush()), expected);
}

TEST(JournalTest, ConcurrentWritersLoseNothingWhileFilesSwitch) {
  // Eight writers at once, 64 KiB files and a flush every millisecond: files
  // switch while writes are on their way to disk.
  const std::string dir = MakeTestDir("journal");
  LmdbEnv::Options options;
  options.journal_file_size = 64 << 10;
  options.flush_interval = absl::Milliseconds(1);
  constexpr int kWriters = 8, kEach = 150;
  ASSERT_TRUE(InCrashingChildWithDatabase(dir, options, [&](LmdbEnv& env, MDB_dbi db) {
    std::vector<std::thread> writers;
    std::atomic<int> failures{0};
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        if (!WriteKeys(env, db, w * kEach, (w + 1) * kEach, 1024)) ++failures;
      });
    }
    for (std::thread& writer : writers) writer.join();
    // Every acknowledged write is visible at once, too.
    if (failures != 0 || Keys(env, db) != ExpectedKeys(0, kWriters * kEach)) return false;
    return true;
  }));
  EXPECT_EQ(KeysAfterReopen(dir, NoBackgroundFlush(64 << 10)), ExpectedKeys(0, kWriters * kEach));
}

TEST(JournalTest, FullFilesAreReusedWithoutLosingOrReplayingWrites) {
  // 64 KiB files and 1 KiB values: the files fill and switch many times.
  const std::string dir = MakeTestDir("journal");
  ASSERT_TRUE(InCrashingChildWithDatabase(dir, NoBackgroundFlush(64 << 10), [&](LmdbEnv& env, MDB_dbi db) {
    if (!WriteKeys(env, db, 0, 400, 1024)) return false;
    // Deleted after being written: a replay of older records must not bring them back.
    for (int i = 0; i < 400; i += 2) {
      if (!env.Write([&](Txn& txn) { return txn.Delete(db, absl::StrCat("key", 1000 + i)); }).ok()) {
        return false;
      }
    }
    return true;
  }));
  std::vector<std::string> expected;
  for (int i = 1; i < 400; i += 2) expected.push_back(absl::StrCat("key", 1000 + i));
  EXPECT_EQ(KeysAfterReopen(dir, NoBackgroundFlush(64 << 10)), expected);
}

TEST(JournalTest, AHalfFullFileIsFlushedWithoutWaitingForTheInterval) {
  // The interval is an hour; 22 records of 1.5 KiB fill a 64 KiB file just
  // past its half. A child writes them and waits; LMDB alone, read from this
  // process, must get them soon.
  const std::string dir = MakeTestDir("journal");
  int release_child[2];
  ASSERT_EQ(pipe(release_child), 0);
  const pid_t child = fork();
  if (child == 0) {
    close(release_child[1]);
    auto env = LmdbEnv::Open(dir, NoBackgroundFlush(64 << 10));
    if (!env.ok()) _exit(1);
    auto db = (*env)->OpenDatabase("t");
    if (!db.ok() || !WriteKeys(**env, *db, 0, 22, 1024)) _exit(1);
    char byte;
    (void)!read(release_child[0], &byte, 1);
    _exit(0);
  }
  close(release_child[0]);
  LmdbEnv::Options without_journal;
  without_journal.journal = false;
  std::vector<std::string> in_lmdb;
  for (int attempt = 0; attempt < 200 && in_lmdb != ExpectedKeys(0, 22); ++attempt) {
    usleep(50'000);
    in_lmdb = KeysAfterReopen(dir, without_journal);
  }
  close(release_child[1]);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(in_lmdb, ExpectedKeys(0, 22));
}

TEST(JournalTest, AWriteTooBigForTheJournalGoesStraightToLmdb) {
  const std::string dir = MakeTestDir("journal");
  ASSERT_TRUE(InCrashingChildWithDatabase(dir, NoBackgroundFlush(64 << 10), [&](LmdbEnv& env, MDB_dbi db) {
    if (!WriteKeys(env, db, 0, 5)) return false;
    if (!WriteKeys(env, db, 5, 6, 40 << 10)) return false;  // more than a quarter file
    return WriteKeys(env, db, 6, 8);
  }));
  EXPECT_EQ(KeysAfterReopen(dir, NoBackgroundFlush(64 << 10)), ExpectedKeys(0, 8));
}

TEST(JournalTest, KeysLmdbWouldRefuseAreRefusedAtOnce) {
  auto env = LmdbEnv::Open(MakeTestDir("journal"), NoBackgroundFlush());
  ASSERT_TRUE(env.ok());
  auto db = (*env)->OpenDatabase("t");
  ASSERT_TRUE(db.ok());
  EXPECT_FALSE((*env)->Write([&](Txn& txn) { return txn.Put(*db, "", "v"); }).ok());
  EXPECT_FALSE((*env)->Write([&](Txn& txn) { return txn.Put(*db, std::string(600, 'k'), "v"); }).ok());
  // And the store still works.
  EXPECT_TRUE((*env)->Write([&](Txn& txn) { return txn.Put(*db, "key1", "v"); }).ok());
  EXPECT_TRUE((*env)->Flush().ok());
}

// ---- LMDB without room: a cap on the size of files this process writes
// (ulimit -f) at data.mdb's size, so that LMDB can take nothing that needs a
// bigger file, while the journal's files, smaller and written in place, are
// unaffected.

bool Say(const std::string& what) {
  std::fprintf(stderr, "child: %s\n", what.c_str());
  return false;
}

// The cap applies to every offset written, so data.mdb must first grow
// beyond a journal file (64 KiB here): this many keys of 300 bytes do.
constexpr int kKeysBeforeTheCap = 300;
bool FillLmdbPastAJournalFile(LmdbEnv& env, MDB_dbi db) {
  return WriteKeys(env, db, 0, kKeysBeforeTheCap, 300) && env.Flush().ok();
}

bool CapFileSizes(const std::string& dir) {
  signal(SIGXFSZ, SIG_IGN);  // a write past the cap then fails with EFBIG
  struct stat data;
  struct rlimit limit;
  if (stat((dir + "/data.mdb").c_str(), &data) != 0 || getrlimit(RLIMIT_FSIZE, &limit) != 0) return false;
  limit.rlim_cur = static_cast<rlim_t>(data.st_size);
  return setrlimit(RLIMIT_FSIZE, &limit) == 0;
}

bool UncapFileSizes() {
  struct rlimit limit;
  if (getrlimit(RLIMIT_FSIZE, &limit) != 0) return false;
  limit.rlim_cur = limit.rlim_max;
  return setrlimit(RLIMIT_FSIZE, &limit) == 0;
}

// With file sizes capped: writes keys from `from` on, handing the journal to
// LMDB every 10 writes, until a write is refused. Checks that LMDB failed to
// take the journal first, that writes went on into the journal after that,
// that the refusal says there is no room, and that reads see every
// acknowledged write. Sets `*written` to the number of keys then.
bool FillUntilRefused(LmdbEnv& env, MDB_dbi db, int from, int* written) {
  bool flush_failed = false;
  int acknowledged_after_flush_failed = 0;
  int i = from;
  absl::Status refused;
  for (; i < from + 20000; ++i) {
    const std::string value = absl::StrCat("value ", i, std::string(300, 'v'));
    refused = env.Write([&](Txn& txn) { return txn.Put(db, absl::StrCat("key", 1000 + i), value); });
    if (!refused.ok()) break;
    if (flush_failed) ++acknowledged_after_flush_failed;
    if (i % 10 == 0) {
      absl::Status flushed = env.Flush();
      if (!flushed.ok() && !absl::IsResourceExhausted(flushed)) return Say("flush: " + flushed.ToString());
      flush_failed = flush_failed || !flushed.ok();
    }
  }
  *written = i;
  if (!flush_failed) return Say("LMDB took everything despite the cap");
  if (acknowledged_after_flush_failed < 20) return Say("writes stopped when LMDB did");
  if (!absl::IsResourceExhausted(refused)) return Say("refused with " + refused.ToString());
  if (Keys(env, db) != ExpectedKeys(0, i)) return Say("reads lost acknowledged writes");
  return true;
}

void SaveCount(const std::string& dir, int count) { std::ofstream(dir + "/count") << count; }
int SavedCount(const std::string& dir) {
  int count = -1;
  std::ifstream(dir + "/count") >> count;
  return count;
}

TEST(JournalTest, WritesGoOnIntoTheJournalWhileLmdbHasNoRoomAndResumeAfter) {
  const std::string dir = MakeTestDir("journal");
  ASSERT_TRUE(InCrashingChild([&] {
    LmdbEnv::Options options = NoBackgroundFlush(64 << 10);
    std::vector<absl::StatusCode> told;
    options.on_lmdb_behind = [&](const absl::Status& status) { told.push_back(status.code()); };
    auto env = LmdbEnv::Open(dir, options);
    if (!env.ok()) return Say(env.status().ToString());
    auto db = (*env)->OpenDatabase("t");
    if (!db.ok() || !FillLmdbPastAJournalFile(**env, *db) || !CapFileSizes(dir)) return Say("setup");
    int written = 0;
    if (!FillUntilRefused(**env, *db, kKeysBeforeTheCap, &written)) return false;
    // Room again: the next write hands the full journal to LMDB and goes on.
    if (!UncapFileSizes()) return Say("cannot uncap file sizes");
    if (!WriteKeys(**env, *db, written, written + 5)) return Say("no write after the room came back");
    if (!(*env)->Flush().ok()) return Say("no flush after the room came back");
    if (told != std::vector<absl::StatusCode>{absl::StatusCode::kResourceExhausted, absl::StatusCode::kOk}) {
      return Say("on_lmdb_behind was not told once of the failure and once of the recovery");
    }
    SaveCount(dir, written + 5);
    env->release();  // dies unflushed
    return true;
  }));
  const int count = SavedCount(dir);
  ASSERT_GT(count, kKeysBeforeTheCap + 20);
  EXPECT_EQ(KeysAfterReopen(dir, NoBackgroundFlush(64 << 10)), ExpectedKeys(0, count));
}

TEST(JournalTest, ACrashWhileLmdbHasNoRoomLosesNoAcknowledgedWrite) {
  // Both journal files then hold records LMDB lacks: the one the failed
  // flush switched away from, and the one written since.
  const std::string dir = MakeTestDir("journal");
  ASSERT_TRUE(InCrashingChild([&] {
    auto env = LmdbEnv::Open(dir, NoBackgroundFlush(64 << 10));
    if (!env.ok()) return Say(env.status().ToString());
    auto db = (*env)->OpenDatabase("t");
    if (!db.ok() || !FillLmdbPastAJournalFile(**env, *db) || !CapFileSizes(dir)) return Say("setup");
    int written = 0;
    if (!FillUntilRefused(**env, *db, kKeysBeforeTheCap, &written)) return false;
    SaveCount(dir, written);
    env->release();
    return true;
  }));
  const int count = SavedCount(dir);
  ASSERT_GT(count, kKeysBeforeTheCap + 20);
  EXPECT_EQ(KeysAfterReopen(dir, NoBackgroundFlush(64 << 10)), ExpectedKeys(0, count));
}

}  // namespace
}  // namespace hsm::storage
