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
// overwritten in place, so that an fdatasync never has a file size or an
// extent to record. Appends go to one file; when LMDB has taken everything in
// it, appends move to the other, from its start. Every record carries a
// sequence number and a checksum: reading a file stops at the first record
// that is torn, zero, or not the next in sequence (an older record left
// behind from the file's previous round).
#ifndef HSM_STORAGE_JOURNAL_H_
#define HSM_STORAGE_JOURNAL_H_

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

  // Opens dir/journal-0 and dir/journal-1, making and zero-filling them first
  // if they are missing or short. Appends start in journal-0.
  static absl::StatusOr<std::unique_ptr<Journal>> Open(const std::string& dir, size_t file_size);
  ~Journal();

  // Every intact record of both files with a sequence number above `after`,
  // in order and without gaps (a gap ends the list).
  absl::StatusOr<std::vector<JournalRecord>> Recover(uint64_t after);

  // Appends encoded records (AppendRecord) to the current file; they are on
  // disk when this returns. FailedPrecondition if they do not fit in what is left.
  absl::Status Append(std::string_view records);
  // Whether `bytes` more fit in the current file.
  bool Fits(size_t bytes) const { return offset_ + bytes <= file_size_; }
  size_t file_size() const { return file_size_; }
  // Appends go to the other file from its start. Only when every record in
  // that file is in LMDB.
  void SwitchFiles();

  // Encodes `record` onto the end of `out`.
  static void AppendRecord(const JournalRecord& record, std::string* out);

  // Removes the journal files of `dir` (a restored backup must not get them).
  static absl::Status RemoveFiles(const std::string& dir);

 private:
  Journal(std::string dir, size_t file_size, int fds[2])
      : dir_(std::move(dir)), file_size_(file_size), fds_{fds[0], fds[1]} {}

  const std::string dir_;
  const size_t file_size_;
  int fds_[2];
  int current_ = 0;
  size_t offset_ = 0;
};

}  // namespace hsm::storage

#endif  // HSM_STORAGE_JOURNAL_H_
