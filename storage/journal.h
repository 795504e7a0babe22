// The write-ahead journal: what makes a write durable with one flush to disk.
//
// A durable LMDB commit flushes twice (the data pages, then the meta page
// that points at them), and each flush of scattered pages is one I/O per
// page: 200 to 450 µs here, most of a token-object creation. Instead, each
// write transaction's changes are appended to the journal with one synchronous
// write (O_DSYNC), and LMDB gets them later, many transactions in one durable
// commit (storage/lmdb_env.h). After a crash, the journal's records newer
// than what LMDB has are applied again when the environment is opened.
//
// Two files, journal-0 and journal-1, are filled with zeros once and then
// overwritten in place, so that a synchronous write never has a file size or
// an extent to record. Appends go to one file; when LMDB has taken everything
// in it, appends move to the other, from its start. Every record carries a
// sequence number and a checksum: reading a file stops at the first record
// that is torn, zero, or not the next in sequence (an older record left
// behind from the file's previous round).
//
// Records start on kAlignment boundaries, so that each can be written with
// O_DIRECT (10 to 20 % faster here than a buffered O_DSYNC write) into a
// slot of its own while other writes are still on their way: concurrent
// synchronous writes overlap in the disk, where one after another they
// would queue. Where the filesystem refuses O_DIRECT (tmpfs), writes are
// buffered O_DSYNC ones. Since a later record may reach the disk before an
// earlier one, a write is acknowledged only once every record before it is
// on disk too (storage/lmdb_env.h), and opening the journal zeroes whatever
// follows the records it could read, so that a record written before a crash
// but never acknowledged cannot join a later chain.
#ifndef HSM_STORAGE_JOURNAL_H_
#define HSM_STORAGE_JOURNAL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace hsm::storage {

// One change of a write transaction: a put (value set) or a delete.
struct JournalChange {
  std::string database;
  std::string key;
  std::optional<std::string> value;
};

struct JournalRecord {
  uint64_t sequence = 0;
  std::vector<JournalChange> changes;
};

class Journal {
 public:
  static constexpr size_t kDefaultFileSize = size_t{4} << 20;
  // Records start at multiples of this (a disk sector), and are padded to it.
  static constexpr size_t kAlignment = 512;

  // Where one append goes.
  struct Slot {
    int file = 0;
    size_t offset = 0;
  };

  // Opens dir/journal-0 and dir/journal-1, making and zero-filling them first
  // if they are missing or short. `file_size` is rounded down to kAlignment.
  // Appends start in journal-0.
  static absl::StatusOr<std::unique_ptr<Journal>> Open(const std::string& dir, size_t file_size);
  ~Journal();

  // Every intact record of both files with a sequence number above `after`,
  // in order and without gaps (a gap ends the list). Call once, before any
  // append: it also zeroes, on disk, what follows the intact records.
  absl::StatusOr<std::vector<JournalRecord>> Recover(uint64_t after);

  // Reserves `bytes` (encoded records, AppendRecord) at the end of the current
  // file; nullopt if they do not fit in what is left. Not thread-safe: the
  // caller orders reservations (and SwitchFiles) under its own lock.
  std::optional<Slot> Reserve(size_t bytes);
  // Writes `records` into `slot`; they are on disk when this returns. Writes
  // into different slots may run at the same time.
  absl::Status Write(const Slot& slot, std::string_view records);
  size_t file_size() const { return file_size_; }
  // Reservations go to the other file from its start. Only when every record
  // in that file is in LMDB and no write into it is under way.
  void SwitchFiles();
  // Whether writes bypass the page cache (O_DIRECT).
  bool direct() const { return direct_; }

  // Encodes `record` onto the end of `out`, padded to kAlignment.
  static void AppendRecord(const JournalRecord& record, std::string* out);

  // Removes the journal files of `dir` (a restored backup must not get them).
  static absl::Status RemoveFiles(const std::string& dir);

 private:
  Journal(std::string dir, size_t file_size, const int synced_fds[2], const int direct_fds[2])
      : dir_(std::move(dir)),
        file_size_(file_size),
        synced_fds_{synced_fds[0], synced_fds[1]},
        direct_fds_{direct_fds[0], direct_fds[1]},
        direct_(direct_fds[0] >= 0 && direct_fds[1] >= 0) {}

  const std::string dir_;
  const size_t file_size_;
  // Buffered O_DSYNC descriptors (reads, zeroing, and writes where O_DIRECT
  // is refused) and O_DIRECT | O_DSYNC ones (-1 if the open was refused).
  int synced_fds_[2];
  int direct_fds_[2];
  // Cleared for good if a direct write is refused (EINVAL: an alignment the
  // filesystem does not take).
  std::atomic<bool> direct_;
  int current_ = 0;
  size_t offset_ = 0;
};

}  // namespace hsm::storage

#endif  // HSM_STORAGE_JOURNAL_H_
