#include "server/audit_log.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/log.h"
#include "storage/no_room.h"

namespace hsm::server {
namespace {

const std::string kGenesis(64, '0');
constexpr char kHashField[] = ",\"hash\":\"";

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(std::string(reinterpret_cast<char*>(digest), sizeof(digest)));
}

// Labels and CKA_IDs come from clients, as long as a gRPC message allows: a
// record keeps the first kMaxClientText bytes of each (and says how long it
// was), so that one call cannot put megabytes into the audit trail.
constexpr size_t kMaxClientText = 256;

std::string Clip(const std::string& text) {
  if (text.size() <= kMaxClientText) return text;
  return absl::StrCat(text.substr(0, kMaxClientText), "...(", text.size(), " bytes)");
}

// The length of the well-formed UTF-8 sequence that starts at text[at], or 0
// if none does (RFC 3629, section 4: no overlong forms, no surrogates, nothing
// above U+10FFFF).
size_t Utf8SequenceLength(const std::string& text, size_t at) {
  const unsigned char lead = static_cast<unsigned char>(text[at]);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;  // the range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    const unsigned char c = static_cast<unsigned char>(text[at + k]);
    if (c < (k == 1 ? low : 0x80) || c > (k == 1 ? high : 0xbf)) return 0;
  }
  return length;
}

// A JSON string. A label is CK_UTF8CHAR, but a client may send any bytes:
// those that are not well-formed UTF-8 become U+FFFD, so that every record
// stays valid JSON for whatever reads the trail.
std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (size_t at = 0; at < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[at]);
    if (c >= 0x80) {
      const size_t length = Utf8SequenceLength(text, at);
      if (length == 0) {
        out += "\\ufffd";
        ++at;
      } else {
        out.append(text, at, length);
        at += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++at;
  }
  return out + "\"";
}

// The hash that chains a record: over the previous hash and the record
// without its own hash field.
std::string ChainHash(const std::string& previous, const std::string& body) {
  return Sha256Hex(previous + "\n" + body);
}

// Splits a line into its body (up to the hash field) and the hash.
bool SplitLine(const std::string& line, std::string* body, std::string* hash) {
  size_t at = line.rfind(kHashField);
  if (at == std::string::npos || line.size() < at + sizeof(kHashField) - 1 + 64 + 2) return false;
  *body = line.substr(0, at) + "}";
  *hash = line.substr(at + sizeof(kHashField) - 1, 64);
  return line.compare(at + sizeof(kHashField) - 1 + 64, std::string::npos, "\"}") == 0;
}

// The value of a top-level string or number field, found textually (the
// writer's own fixed layout).
std::string FieldOf(const std::string& body, const std::string& name) {
  const std::string key = "\"" + name + "\":";
  size_t at = body.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  if (body[at] == '"') {
    size_t end = body.find('"', at + 1);
    return body.substr(at + 1, end - at - 1);
  }
  size_t end = body.find_first_of(",}", at);
  return body.substr(at, end - at);
}

}  // namespace

std::string AuditResult(uint64_t rv) {
  return rv == 0 ? "CKR_OK" : absl::StrFormat("0x%08x", rv);
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path) {
  // Pick up the chain where the file ends.
  uint64_t next_sequence = 1;
  std::string last_hash = kGenesis;
  uint64_t whole_lines_bytes = 0;
  size_t torn_bytes = 0;
  {
    std::ifstream file(path);
    std::string line, body, hash;
    while (std::getline(file, line)) {
      if (file.eof()) {
        // A last line without its newline: a write cut short (a full disk,
        // or hsmd killed inside write(2)). It was never a record.
        torn_bytes = line.size();
        break;
      }
      whole_lines_bytes += line.size() + 1;
      if (line.empty()) continue;
      if (!SplitLine(line, &body, &hash)) {
        return absl::DataLossError(absl::StrCat("the audit log ", path, " has a malformed line ", next_sequence,
                                                "; run `hsmctl audit verify`"));
      }
      last_hash = hash;
      ++next_sequence;
    }
  }
  if (torn_bytes > 0 && truncate(path.c_str(), static_cast<off_t>(whole_lines_bytes)) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot remove the incomplete last line of the audit log ", path, ": ", std::strerror(errno)));
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open the audit log ", path, ": ", std::strerror(errno)));
  std::unique_ptr<AuditLog> log(new AuditLog(path, fd, next_sequence, last_hash, whole_lines_bytes));
  if (torn_bytes > 0) {
    LogWarning(absl::StrCat("the audit log ", path, " ended in an incomplete line of ", torn_bytes,
                            " bytes (a write cut short); it was removed"));
    AuditEvent removed;
    removed.operation = "audit.incomplete_line_removed";
    removed.result = "done";
    removed.detail = absl::StrCat("an incomplete last line of ", torn_bytes, " bytes was removed at start");
    log->Record(removed);
  }
  return log;
}

AuditLog::~AuditLog() { close(fd_); }

void AuditLog::Record(const AuditEvent& event) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!CatchUpLocked()) {
    ++lost_;  // this event's record too
    return;
  }
  if (AppendLocked(event)) return;
  LogError(absl::StrCat("cannot write to the audit log ", path_, ": ", std::strerror(failed_errno_),
                        "; records are lost until it can be written again"));
  lost_ = 1;
  failing_.store(true, std::memory_order_relaxed);
}

bool AuditLog::Writable() {
  if (!failing()) return true;
  std::lock_guard<std::mutex> lock(mutex_);
  return CatchUpLocked();
}

bool AuditLog::FailedForRoom() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return storage::IsNoRoomError(failed_errno_);
}

bool AuditLog::CatchUpLocked() {
  if (lost_ == 0) return true;
  // The trail itself says where records are missing, before the next one.
  AuditEvent note;
  note.operation = "audit.records_lost";
  note.result = "done";
  note.detail = absl::StrCat(lost_, " records before this one could not be written (", std::strerror(failed_errno_),
                             ")");
  if (!AppendLocked(note)) return false;
  LogInfo(absl::StrCat("the audit log ", path_, " is written again; ", lost_, " records were lost"));
  lost_ = 0;
  failing_.store(false, std::memory_order_relaxed);
  return true;
}

bool AuditLog::AppendLocked(const AuditEvent& event) {
  const std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
  std::string body = absl::StrCat("{\"seq\":", next_sequence_, ",\"time\":", Quote(time),
                                  ",\"tenant\":", Quote(event.tenant), ",\"client\":", Quote(event.client),
                                  ",\"application\":", Quote(absl::StrFormat("%016x", event.application)),
                                  ",\"session\":", event.session, ",\"operation\":", Quote(event.operation));
  if (event.object != 0) {
    absl::StrAppend(&body, ",\"object\":", event.object, ",\"label\":", Quote(Clip(event.object_label)),
                    ",\"id\":", Quote(Clip(event.object_id_hex)));
  }
  if (event.has_mechanism) absl::StrAppend(&body, ",\"mechanism\":", Quote(absl::StrFormat("0x%x", event.mechanism)));
  absl::StrAppend(&body, ",\"result\":", Quote(event.result));
  if (!event.detail.empty()) absl::StrAppend(&body, ",\"detail\":", Quote(event.detail));
  absl::StrAppend(&body, ",\"prev\":", Quote(last_hash_), "}");
  const std::string hash = ChainHash(last_hash_, body);
  std::string line = body.substr(0, body.size() - 1) + kHashField + hash + "\"}\n";
  // One write(2) per record: whole lines even if hsmd dies right after.
  errno = 0;
  ssize_t written = write(fd_, line.data(), line.size());
  if (written > 0 && written < static_cast<ssize_t>(line.size())) {
    // Cut short: the rest either goes too, or fails and says why.
    const ssize_t rest = write(fd_, line.data() + written, line.size() - written);
    if (rest > 0) written += rest;
  }
  if (written == static_cast<ssize_t>(line.size())) {
    size_ += line.size();
    last_hash_ = hash;
    ++next_sequence_;
    return true;
  }
  // A full disk (or the file size limit) took part of the line or none: cut
  // the file back to whole lines.
  failed_errno_ = errno != 0 ? errno : ENOSPC;
  if (ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
    LogError(absl::StrCat("cannot cut the audit log ", path_, " back to whole lines: ", std::strerror(errno)));
  }
  return false;
}

std::vector<std::string> AuditLog::Tail(size_t lines) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ifstream file(path_);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(file, line)) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  return std::vector<std::string>(last.begin(), last.end());
}

AuditVerification AuditLog::Verify(const std::string& path) {
  AuditVerification result;
  std::ifstream file(path);
  if (!file.good()) {
    result.intact = false;
    result.problem = "cannot read " + path;
    return result;
  }
  std::string previous = kGenesis, line, body, hash;
  for (uint64_t number = 1; std::getline(file, line); ++number) {
    auto fail = [&](const std::string& problem) {
      result.intact = false;
      result.bad_line = number;
      result.problem = problem;
      return result;
    };
    if (!SplitLine(line, &body, &hash)) return fail("not an audit record");
    if (FieldOf(body, "seq") != std::to_string(number)) {
      return fail("sequence number " + FieldOf(body, "seq") + " where " + std::to_string(number) +
                  " belongs: a record was removed, inserted or moved");
    }
    if (FieldOf(body, "prev") != previous) return fail("does not follow the record before it");
    if (ChainHash(previous, body) != hash) return fail("the record was changed after it was written");
    previous = hash;
    result.records = number;
  }
  return result;
}

}  // namespace hsm::server
