#include "storage/journal.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "storage/byte_order.h"

namespace hsm::storage {
namespace {

// Record layout (little-endian):
//   magic u32 | body length u32 | checksum 8 bytes | sequence u64 | body
// body: change count u32, then per change: kind u8 (1 put, 2 delete),
//   database (u32 length, bytes), key (u32 length, bytes), for a put the
//   value (u32 length, bytes).
// checksum: the first 8 bytes of SHA-256(sequence | body).
// Zeros pad each record to a multiple of Journal::kAlignment.
constexpr uint32_t kMagic = 0x4A4D5348;  // "HSMJ"
constexpr size_t kHeaderSize = 24;
constexpr uint8_t kPut = 1, kDelete = 2;

void PutU32(std::string* out, uint32_t v) { AppendLe(out, v, 4); }

void PutU64(std::string* out, uint64_t v) { AppendLe(out, v, 8); }

void PutBytes(std::string* out, std::string_view bytes) {
  PutU32(out, static_cast<uint32_t>(bytes.size()));
  out->append(bytes);
}

uint64_t GetLe(const char* p, int bytes) { return ReadLe(std::string_view(p, bytes), bytes); }

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

size_t Padded(size_t bytes) {
  return (bytes + Journal::kAlignment - 1) / Journal::kAlignment * Journal::kAlignment;
}

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat("journal: ", std::string(what), " ", path, ": ", std::strerror(errno)));
}

std::string FilePath(const std::string& dir, int index) { return absl::StrCat(dir, "/journal-", index); }

// Zeroes [from, to) of the file, on disk.
absl::Status Zero(int fd, size_t from, size_t to, const std::string& path) {
  if (from >= to) return absl::OkStatus();
  const std::string zeros(std::min<size_t>(to - from, size_t{1} << 20), '\0');
  for (size_t at = from; at < to;) {
    const ssize_t written = pwrite(fd, zeros.data(), std::min(zeros.size(), to - at), static_cast<off_t>(at));
    if (written <= 0) return Errno("zero", path);
    at += static_cast<size_t>(written);
  }
  return fdatasync(fd) == 0 ? absl::OkStatus() : Errno("sync", path);
}

// Zero-fills `path` to `size` bytes, on disk.
absl::Status Fill(const std::string& path, size_t size) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("open", path);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    absl::Status error = Errno("stat", path);
    close(fd);
    return error;
  }
  // fdatasync records the new size too: it is needed to read the data back.
  absl::Status filled = Zero(fd, static_cast<size_t>(st.st_size), size, path);
  close(fd);
  return filled;
}

// The intact records at the start of a file, in order, and where they end.
struct FileContents {
  std::vector<JournalRecord> records;
  size_t end = 0;
  // Just past the last byte that is not zero (0 if there is none).
  size_t used = 0;
};

absl::StatusOr<FileContents> ReadFile(int fd, size_t size, const std::string& path) {
  std::string bytes(size, '\0');
  for (size_t at = 0; at < size;) {
    const ssize_t n = pread(fd, bytes.data() + at, size - at, static_cast<off_t>(at));
    if (n < 0) return Errno("read", path);
    if (n == 0) break;
    at += static_cast<size_t>(n);
  }
  FileContents contents;
  const size_t last = bytes.find_last_not_of('\0');
  contents.used = last == std::string::npos ? 0 : last + 1;
  std::vector<JournalRecord>& records = contents.records;
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
    at = std::min(size, at + Padded(kHeaderSize + body_length));
  }
  contents.end = at;
  return contents;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Journal>> Journal::Open(const std::string& dir, size_t file_size) {
  file_size = file_size / kAlignment * kAlignment;
  int synced_fds[2] = {-1, -1}, direct_fds[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {synced_fds[0], synced_fds[1], direct_fds[0], direct_fds[1]}) {
      if (fd >= 0) close(fd);
    }
  };
  for (int i = 0; i < 2; ++i) {
    const std::string path = FilePath(dir, i);
    absl::Status filled = Fill(path, file_size);
    if (!filled.ok()) {
      close_all();
      return filled;
    }
    // O_DSYNC: each write returns once on disk, one system call instead of a
    // write and an fdatasync (and the disk may take it as one forced write).
    synced_fds[i] = open(path.c_str(), O_RDWR | O_DSYNC | O_CLOEXEC);
    if (synced_fds[i] < 0) {
      absl::Status error = Errno("open", path);
      close_all();
      return error;
    }
    direct_fds[i] = open(path.c_str(), O_RDWR | O_DSYNC | O_DIRECT | O_CLOEXEC);  // -1 on tmpfs
  }
  // The files' names must be on disk too.
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  if (direct_fds[0] < 0 || direct_fds[1] < 0) {
    for (int& fd : direct_fds) {
      if (fd >= 0) close(fd);
      fd = -1;
    }
  }
  return std::unique_ptr<Journal>(new Journal(dir, file_size, synced_fds, direct_fds));
}

Journal::~Journal() {
  for (int fd : {synced_fds_[0], synced_fds_[1], direct_fds_[0], direct_fds_[1]}) {
    if (fd >= 0) close(fd);
  }
}

absl::StatusOr<std::vector<JournalRecord>> Journal::Recover(uint64_t after) {
  std::vector<JournalRecord> all;
  for (int i = 0; i < 2; ++i) {
    const std::string path = FilePath(dir_, i);
    absl::StatusOr<FileContents> contents = ReadFile(synced_fds_[i], file_size_, path);
    if (!contents.ok()) return contents.status();
    for (JournalRecord& record : contents->records) {
      if (record.sequence > after) all.push_back(std::move(record));
    }
    // Past the intact records may lie one that reached the disk while one
    // before it did not, never acknowledged: the next chain written here
    // must not run into it.
    absl::Status zeroed = Zero(synced_fds_[i], contents->end, contents->used, path);
    if (!zeroed.ok()) return zeroed;
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

std::optional<Journal::Slot> Journal::Reserve(size_t bytes) {
  if (offset_ + bytes > file_size_) return std::nullopt;
  Slot slot{current_, offset_};
  offset_ += bytes;
  return slot;
}

absl::Status Journal::Write(const Slot& slot, std::string_view records) {
  if (direct_.load(std::memory_order_relaxed)) {
    // O_DIRECT wants the memory aligned too (and aligned_alloc a size that
    // is a multiple of the alignment). Each writing thread keeps its buffer
    // (at most a quarter of a file: larger writes bypass the journal).
    constexpr size_t kPage = 4096;
    thread_local std::unique_ptr<char, decltype(&free)> aligned(nullptr, &free);
    thread_local size_t capacity = 0;
    const size_t needed = (Padded(records.size()) + kPage - 1) / kPage * kPage;
    if (capacity < needed) {
      aligned.reset(static_cast<char*>(aligned_alloc(kPage, needed)));
      capacity = aligned == nullptr ? 0 : needed;
      if (aligned == nullptr) return absl::ResourceExhaustedError("journal: out of memory");
    }
    memcpy(aligned.get(), records.data(), records.size());
    memset(aligned.get() + records.size(), 0, Padded(records.size()) - records.size());
    const ssize_t n = pwrite(direct_fds_[slot.file], aligned.get(), Padded(records.size()),
                             static_cast<off_t>(slot.offset));
    if (n == static_cast<ssize_t>(Padded(records.size()))) return absl::OkStatus();
    if (n >= 0 || errno != EINVAL) return Errno("write", FilePath(dir_, slot.file));
    direct_.store(false);  // this filesystem takes no such direct write: buffered from now on
  }
  for (size_t done = 0; done < records.size();) {
    const ssize_t n = pwrite(synced_fds_[slot.file], records.data() + done, records.size() - done,
                             static_cast<off_t>(slot.offset + done));
    if (n <= 0) return Errno("write", FilePath(dir_, slot.file));
    done += static_cast<size_t>(n);
  }
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
  const size_t start = out->size();
  PutU32(out, kMagic);
  PutU32(out, static_cast<uint32_t>(sequence_and_body.size() - 8));
  out->append(Checksum(sequence_and_body));
  out->append(sequence_and_body);
  out->resize(start + Padded(out->size() - start), '\0');
}

absl::Status Journal::RemoveFiles(const std::string& dir) {
  for (int i = 0; i < 2; ++i) {
    const std::string path = FilePath(dir, i);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove", path);
  }
  return absl::OkStatus();
}

}  // namespace hsm::storage
