// The LMDB environment: one file pair in the data folder, named databases,
// and transactions that are RAII objects. The map grows by itself: a write
// that hits MDB_MAP_FULL is retried after the map is doubled, so callers
// never see it.
//
// Writes go through the journal (storage/journal.h): a write is durable once
// its changes are in the journal, one flush to disk; a background thread
// hands them to LMDB every `flush_interval`, many writes in one durable
// commit. Until then they sit in memory, in layers that every transaction
// reads before LMDB itself:
//   pending   journaled, not yet on disk: seen only by later writes (which
//             may build on them), never by reads;
//   visible   on disk in the journal: what reads see before LMDB;
//   flushing  being committed to LMDB right now.
// Concurrent writes go to the disk together: each has its own slot in the
// journal and writes it at once, without waiting for the writes before it;
// it is acknowledged, and becomes visible, once every write before it is on
// disk too.
//
// When LMDB cannot take the journal (the disk is full, say), writes go on
// into the journal, whose files are allocated in advance, while the handing
// over is retried; only once the journal is full too are writes refused, with
// ResourceExhausted when there is no room on the disk. Nothing acknowledged is
// lost, and writes resume by themselves once LMDB takes the journal again.
#ifndef HSM_STORAGE_LMDB_ENV_H_
#define HSM_STORAGE_LMDB_ENV_H_

#include <lmdb.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/journal.h"

// Returns from the enclosing function if `expr`, an absl::Status, is not OK.
#define HSM_STORAGE_RETURN_IF_ERROR(expr) \
  do {                                     \
    absl::Status status_ = (expr);         \
    if (!status_.ok()) return status_;     \
  } while (0)

namespace hsm::storage {

// Keys ordered as LMDB orders them (bytes, unsigned), looked up without a copy.
struct ChangeKeyLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    if (a.first != b.first) return a.first < b.first;
    return std::string_view(a.second) < std::string_view(b.second);
  }
};
// Changes not yet in LMDB, by database and key; nullopt is a delete.
using ChangeMap = std::map<std::pair<MDB_dbi, std::string>, std::optional<std::string>, ChangeKeyLess>;

// A read-only or read-write transaction. Values read stay valid until the
// transaction ends or, in a write transaction, until its next Put or Delete.
class Txn {
 public:
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn();

  // The value under `key`, or nullopt.
  absl::StatusOr<std::optional<std::string_view>> Get(MDB_dbi db, std::string_view key);
  absl::Status Put(MDB_dbi db, std::string_view key, std::string_view value);
  // Deleting a missing key is not an error.
  absl::Status Delete(MDB_dbi db, std::string_view key);
  // Calls `visit` for every key starting with `prefix`, in key order, until it
  // returns false.
  absl::Status ForEachWithPrefix(
      MDB_dbi db, std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& visit);


 private:
  friend class LmdbEnv;
  // Reads and writes go to LMDB's `txn`.
  explicit Txn(MDB_txn* txn) : txn_(txn) {}
  // Reads see `layers` (the first that has a key decides) over LMDB's
  // read-only `txn`; writes go to `changes` (then the first layer), or are
  // refused if it is null.
  Txn(MDB_txn* txn, std::vector<const ChangeMap*> layers, ChangeMap* changes)
      : txn_(txn), layers_(std::move(layers)), changes_(changes), layered_(true) {}
  absl::Status Commit();
  absl::Status Check(int rc, std::string_view what);
  absl::Status CheckKey(std::string_view key) const;
  absl::Status WalkLmdb(MDB_dbi db, std::string_view prefix,
                        const std::function<bool(std::string_view, std::string_view)>& visit);

  MDB_txn* txn_;
  std::vector<const ChangeMap*> layers_;
  ChangeMap* changes_ = nullptr;
  bool layered_ = false;
  // Set when LMDB said MDB_MAP_FULL: the write is retried on a larger map.
  bool map_full_ = false;
  // LMDB's code for the last call that failed, 0 if none.
  int failed_rc_ = 0;
};

class LmdbEnv {
 public:
  struct Options {
    // The map's size at open; it doubles whenever it is full.
    size_t initial_map_size = size_t{64} << 20;
    unsigned max_databases = 16;
    // Off: each write is one durable LMDB commit (two flushes to disk).
    bool journal = true;
    size_t journal_file_size = Journal::kDefaultFileSize;
    // How long a journaled write may wait before LMDB has it; a flush also
    // starts whenever the current journal file is half full. Each LMDB commit
    // holds up the journal writes that meet it in the disk: every 20 ms, 1 to
    // 2 % of creations took over 1.5 ms; every 200 ms, under 1 % took 0.5 ms.
    absl::Duration flush_interval = absl::Milliseconds(200);
    // Told (from the flushing thread) when handing the journal to LMDB
    // fails, with why, and when it works again after failing, with OK. The
    // caller's log is where an operator learns of a full disk before writes
    // are refused.
    std::function<void(const absl::Status&)> on_lmdb_behind;
  };

  // Opens (creating if needed) the environment in folder `dir`.
  static absl::StatusOr<std::unique_ptr<LmdbEnv>> Open(const std::string& dir,
                                                       const Options& options);
  static absl::StatusOr<std::unique_ptr<LmdbEnv>> Open(const std::string& dir) {
    return Open(dir, Options());
  }
  ~LmdbEnv();

  // Opens (creating if needed) a named database. Call before any concurrent use.
  absl::StatusOr<MDB_dbi> OpenDatabase(const std::string& name);

  // Runs `body` in a read transaction.
  absl::Status Read(const std::function<absl::Status(Txn&)>& body);
  // Runs `body` in a write transaction and commits it if `body` returns OK;
  // the commit is durable when this returns OK. `body` may run more than once
  // (after the map has grown), so it must not have side effects outside `txn`.
  absl::Status Write(const std::function<absl::Status(Txn&)>& body);

  // Hands every journaled write to LMDB now (the background thread does it
  // every flush_interval).
  absl::Status Flush();

  size_t map_size() const { return map_size_; }

  // A consistent, compacted copy of the environment, taken while it is in
  // use, into the existing empty folder `dir` (as dir/data.mdb).
  absl::Status CopyTo(const std::string& dir);

 private:
  // A journaled write on its way to disk, or on disk behind one that is not.
  struct InFlight {
    ChangeMap changes;
    bool written = false;
  };

  LmdbEnv(MDB_env* env, size_t map_size, std::string dir)
      : env_(env), map_size_(map_size), dir_(std::move(dir)) {}
  absl::Status Grow();
  // Opens the journal, applies what LMDB lacks of it, starts the flusher.
  absl::Status StartJournal(const std::string& dir, const Options& options);
  // `body` in a real LMDB write transaction, committed durably.
  absl::Status WriteDirect(const std::function<absl::Status(Txn&)>& body);
  // `body` over the layers (and pending_, for a writer) and a pooled LMDB reader.
  absl::Status ReadLayered(ChangeMap* changes, const std::function<absl::Status(Txn&)>& body);
  // Room in the journal for the record of `sequence`, `bytes` long; flushes
  // first when the current file is full. Under write_mutex_.
  absl::StatusOr<Journal::Slot> Reserve(size_t bytes, uint64_t sequence);
  // Notes that the record of `sequence` is on disk (or failed to get there),
  // and waits until every record up to it is.
  absl::Status Complete(uint64_t sequence, const absl::Status& written);
  // Makes visible, in order, the written records that follow synced_sequence_
  // without a gap. Under sync_mutex_.
  void PublishWritten();
  // Waits until every record up to `sequence` is on disk and visible.
  absl::Status WaitSynced(uint64_t sequence);
  // The same with sync_mutex_ held in `lock`.
  absl::Status WaitSyncedLocked(std::unique_lock<std::mutex>& lock, uint64_t sequence);
  // Stops writes for good (the first reason is kept) and wakes the waiters.
  // Under sync_mutex_.
  void BreakLocked(const absl::Status& why);
  // Applies `changes` and the journal position `applied` in one LMDB commit.
  absl::Status ApplyToLmdb(const ChangeMap& changes, std::optional<uint64_t> applied);
  void RunFlusher(absl::Duration interval);
  absl::Status Broken() const;
  // `failed`, a commit that LMDB refused with `rc`, as ResourceExhausted if
  // the data folder had no room for it.
  absl::Status NotedIfNoRoom(const absl::Status& failed, int rc) const;

  MDB_env* env_;
  size_t map_size_;
  const std::string dir_;
  // Shared by every transaction; taken exclusively to resize the map, which
  // LMDB allows only while this process has no transaction open.
  std::shared_mutex resize_mutex_;
  // Read transactions reset after use, renewed by the next Read: cheaper than
  // a new one each time (at most one per thread that ever read at once).
  std::mutex idle_readers_mutex_;
  std::vector<MDB_txn*> idle_readers_;
  // One write's body at a time (LMDB allows one write transaction; the
  // journal's sequence is the order of the bodies).
  std::mutex write_mutex_;

  // The journal; null when it is off. Its reservations and file switches are
  // under journal_mutex_, with the sequence of the last record reserved.
  std::unique_ptr<Journal> journal_;
  std::mutex journal_mutex_;
  uint64_t last_reserved_ = 0;
  MDB_dbi journal_db_ = 0;  // "applied" -> the last sequence LMDB has
  std::map<MDB_dbi, std::string> database_names_;  // under write_mutex_
  // Under write_mutex_.
  uint64_t next_sequence_ = 0;
  ChangeMap pending_;
  std::map<std::pair<MDB_dbi, std::string>, uint64_t, ChangeKeyLess> pending_sequence_;
  // Records written or being written, under sync_mutex_; every record up to
  // synced_sequence_ is on disk and visible.
  std::mutex sync_mutex_;
  std::condition_variable synced_;
  uint64_t synced_sequence_ = 0;
  std::map<uint64_t, InFlight> in_flight_;
  // Set when the journal failed a write: later writes are refused (what is
  // on disk may no longer be what was acknowledged).
  std::atomic<bool> broken_{false};
  std::string broken_reason_;  // written once, before broken_ is set
  // What reads see before LMDB, under layers_mutex_.
  std::shared_mutex layers_mutex_;
  ChangeMap visible_;
  ChangeMap flushing_;
  uint64_t visible_sequence_ = 0;
  // One flush at a time; the background flusher.
  std::mutex flush_mutex_;
  // Under flush_mutex_: the last flush failed, so LMDB lacks records of the
  // file it switched away from. The journal does not switch files again
  // (which would write over them) until a flush succeeds; flushing_ keeps
  // them readable meanwhile.
  bool lmdb_behind_ = false;
  std::function<void(const absl::Status&)> on_lmdb_behind_;
  std::mutex flusher_mutex_;
  std::condition_variable flusher_wake_;
  bool flusher_stop_ = false;
  bool flush_wanted_ = false;  // the current journal file is half full
  std::thread flusher_;
};

// An absl::Status for an LMDB return code.
absl::Status LmdbError(int rc, std::string_view what);

}  // namespace hsm::storage

#endif  // HSM_STORAGE_LMDB_ENV_H_
