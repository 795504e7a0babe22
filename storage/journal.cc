#include "storage/journal.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace hsm::storage {
namespace {

// Record layout (little-endian):
//   magic u32 | body length u32 | checksum 8 bytes | sequence u64 | body
// body: change count u32, then per change: kind u8 (1 put, 2 delete),
//   database (u32 length, bytes), key (u32 length, bytes), for a put the
//   value (u32 length, bytes).
// checksum: the first 8 bytes of SHA-256(sequence | body).
constexpr uint32_t kMagic = 0x4A4D5348;  // "HSMJ"
constexpr size_t kHeaderSize = 24;
constexpr uint8_t kPut = 1, kDelete = 2;

void PutU32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 4);
}

void PutU64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 8);
}

void PutBytes(std::string* out, std::string_view bytes) {
  PutU32(out, static_cast<uint32_t>(bytes.size()));
  out->append(bytes);
}

uint64_t GetLe(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::string Checksum(std::string_view sequence_and_body) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(sequence_and_body.data()), sequence_and_body.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), 8);
}

// Reads a length-prefixed field of `body` at `*at`; false if it runs past the end.
bool GetBytes(std::string_view body, size_t* at, std::string* out) {
  if (body.size() - *at < 4) return false;
  const uint64_t length = GetLe(body.data() + *at, 4);
  *at += 4;
  if (body.size() - *at < length) return false;
  out->assign(body.data() + *at, length);
  *at += length;
  return true;
}

bool ParseBody(std::string_view body, JournalRecord* record) {
  if (body.size() < 4) return false;
  const uint64_t count = GetLe(body.data(), 4);
  size_t at = 4;
  for (uint64_t i = 0; i < count; ++i) {
    if (at >= body.size()) return false;
    const uint8_t kind = static_cast<uint8_t>(body[at++]);
    JournalChange change;
    if (!GetBytes(body, &at, &change.database) || !GetBytes(body, &at, &change.key)) return false;
    if (kind == kPut) {
      std::string value;
      if (!GetBytes(body, &at, &value)) return false;
      change.value = std::move(value);
    } else if (kind != kDelete) {
      return false;
    }
    record->changes.push_back(std::move(change));
  }
  return at == body.size();
}

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat("journal: ", std::string(what), " ", path, ": ", std::strerror(errno)));
}

std::string FilePath(const std::string& dir, int index) { return absl::StrCat(dir, "/journal-", index); }

// Opens `path` for synchronous writes, zero-filled to `size` bytes and on disk.
absl::StatusOr<int> OpenFilled(const std::string& path, size_t size) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("open", path);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Errno("stat", path);
  }
  if (static_cast<size_t>(st.st_size) < size) {
    const std::string zeros(size_t{1} << 20, '\0');
    for (size_t at = static_cast<size_t>(st.st_size); at < size;) {
      const size_t n = std::min(zeros.size(), size - at);
      const ssize_t written = pwrite(fd, zeros.data(), n, static_cast<off_t>(at));
      if (written <= 0) {
        close(fd);
        return Errno("fill", path);
      }
      at += static_cast<size_t>(written);
    }
    if (fsync(fd) != 0) {
      close(fd);
      return Errno("sync", path);
    }
  }
  close(fd);
  // O_DSYNC: each write returns once on disk, one system call instead of a
  // write and an fdatasync (and the disk may take it as one forced write).
  fd = open(path.c_str(), O_RDWR | O_DSYNC | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  return fd;
}

// The intact records at the start of the file, in order.
absl::StatusOr<std::vector<JournalRecord>> ReadFile(int fd, size_t size, const std::string& path) {
  std::string bytes(size, '\0');
  for (size_t at = 0; at < size;) {
    const ssize_t n = pread(fd, bytes.data() + at, size - at, static_cast<off_t>(at));
    if (n < 0) return Errno("read", path);
    if (n == 0) break;
    at += static_cast<size_t>(n);
  }
  std::vector<JournalRecord> records;
  size_t at = 0;
  while (size - at >= kHeaderSize) {
    const char* header = bytes.data() + at;
    if (GetLe(header, 4) != kMagic) break;
    const uint64_t body_length = GetLe(header + 4, 4);
    if (size - at - kHeaderSize < body_length) break;
    const std::string_view sequence_and_body(header + 16, 8 + body_length);
    if (Checksum(sequence_and_body) != std::string_view(header + 8, 8)) break;
    JournalRecord record;
    record.sequence = GetLe(header + 16, 8);
    if (!records.empty() && record.sequence != records.back().sequence + 1) break;
    if (!ParseBody(sequence_and_body.substr(8), &record)) break;
    records.push_back(std::move(record));
    at += kHeaderSize + body_length;
  }
  return records;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Journal>> Journal::Open(const std::string& dir, size_t file_size) {
  int fds[2] = {-1, -1};
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<int> fd = OpenFilled(FilePath(dir, i), file_size);
    if (!fd.ok()) {
      if (i == 1) close(fds[0]);
      return fd.status();
    }
    fds[i] = *fd;
  }
  // The files' names must be on disk too.
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return std::unique_ptr<Journal>(new Journal(dir, file_size, fds));
}

Journal::~Journal() {
  close(fds_[0]);
  close(fds_[1]);
}

absl::StatusOr<std::vector<JournalRecord>> Journal::Recover(uint64_t after) {
  std::vector<JournalRecord> all;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<std::vector<JournalRecord>> records = ReadFile(fds_[i], file_size_, FilePath(dir_, i));
    if (!records.ok()) return records.status();
    for (JournalRecord& record : *records) {
      if (record.sequence > after) all.push_back(std::move(record));
    }
  }
  std::sort(all.begin(), all.end(),
            [](const JournalRecord& a, const JournalRecord& b) { return a.sequence < b.sequence; });
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].sequence != after + 1 + i) {
      return absl::DataLossError(absl::StrCat("journal: record ", after + 1 + i, " is missing in ", dir_,
                                              "; records after it cannot be applied"));
    }
  }
  return all;
}

absl::Status Journal::Append(std::string_view records) {
  if (!Fits(records.size())) return absl::FailedPreconditionError("journal file full");
  const std::string path = FilePath(dir_, current_);
  for (size_t done = 0; done < records.size();) {
    const ssize_t n = pwrite(fds_[current_], records.data() + done, records.size() - done,
                             static_cast<off_t>(offset_ + done));
    if (n <= 0) return Errno("write", path);
    done += static_cast<size_t>(n);
  }
  offset_ += records.size();
  return absl::OkStatus();
}

void Journal::SwitchFiles() {
  current_ = 1 - current_;
  offset_ = 0;
}

void Journal::AppendRecord(const JournalRecord& record, std::string* out) {
  std::string sequence_and_body;
  PutU64(&sequence_and_body, record.sequence);
  PutU32(&sequence_and_body, static_cast<uint32_t>(record.changes.size()));
  for (const JournalChange& change : record.changes) {
    sequence_and_body.push_back(static_cast<char>(change.value.has_value() ? kPut : kDelete));
    PutBytes(&sequence_and_body, change.database);
    PutBytes(&sequence_and_body, change.key);
    if (change.value.has_value()) PutBytes(&sequence_and_body, *change.value);
  }
  PutU32(out, kMagic);
  PutU32(out, static_cast<uint32_t>(sequence_and_body.size() - 8));
  out->append(Checksum(sequence_and_body));
  out->append(sequence_and_body);
}

absl::Status Journal::RemoveFiles(const std::string& dir) {
  for (int i = 0; i < 2; ++i) {
    const std::string path = FilePath(dir, i);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove", path);
  }
  return absl::OkStatus();
}

}  // namespace hsm::storage
