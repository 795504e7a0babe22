// The audit trail: an append-only file of JSON lines, one per security event
// (logins, PIN changes, key generation, every use of a private or secret key,
// object creation and destruction, quota refusals, admin actions). Each
// record carries the SHA-256 of the previous one, so a changed, removed or
// reordered record breaks the chain where it happened. Records never hold a
// PIN or key material.
#ifndef HSM_SERVER_AUDIT_LOG_H_
#define HSM_SERVER_AUDIT_LOG_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace hsm::server {

struct AuditEvent {
  std::string operation;  // "C_Login", "C_SignInit", "admin.token.create" ...
  std::string tenant;
  std::string client;     // the caller's identity: certificate, or "development"
  uint64_t application = 0;
  uint64_t session = 0;
  uint64_t object = 0;    // handle or object id, 0 if none
  std::string object_label;
  std::string object_id_hex;  // CKA_ID
  uint64_t mechanism = 0;
  bool has_mechanism = false;
  std::string result;     // "CKR_OK", a CK_RV in hex, or an admin outcome
  std::string detail;     // free text without secrets
};

struct AuditVerification {
  bool intact = true;
  uint64_t records = 0;
  uint64_t bad_line = 0;  // 1-based
  std::string problem;
};

class AuditLog {
 public:
  // Opens (creating) the log at `path` and picks up its chain. A last line
  // without its newline (a write cut short) is removed, and a record says so.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& path);
  ~AuditLog();

  // Appends one record. If the file cannot take it (a full disk), what was
  // written of it is cut off and hsmd's log says records are being lost; the
  // first record written afterwards is preceded by one counting them.
  void Record(const AuditEvent& event);
  // Whether records can be written: true unless the last write failed, in
  // which case this tries again, with the record that counts the lost ones.
  // Cheap while writes succeed. hsmd asks before a call it must audit
  // (--on_audit_failure=refuse).
  bool Writable();
  // Whether the last write failed (one atomic load: for the hot path).
  bool failing() const { return failing_.load(std::memory_order_relaxed); }
  // Whether the last failed write found no room (a full disk, a quota, the
  // file size limit) rather than another fault.
  bool FailedForRoom() const;
  // The last `lines` records.
  std::vector<std::string> Tail(size_t lines) const;
  const std::string& path() const { return path_; }

  // Checks the chain of the log file at `path`.
  static AuditVerification Verify(const std::string& path);

 private:
  AuditLog(std::string path, int fd, uint64_t next_sequence, std::string last_hash, uint64_t size)
      : path_(std::move(path)), fd_(fd), next_sequence_(next_sequence), last_hash_(std::move(last_hash)),
        size_(size) {}
  // Writes `event` as the next record; false if the file did not take all of
  // it (it is then cut back to whole lines, and failed_errno_ says why).
  bool AppendLocked(const AuditEvent& event);
  // After lost records, writes the one that counts them; true if there were
  // none or it was written.
  bool CatchUpLocked();

  const std::string path_;
  int fd_;
  mutable std::mutex mutex_;
  uint64_t next_sequence_;
  std::string last_hash_;
  uint64_t size_;  // bytes of whole lines in the file
  // Records that could not be written since the last one that was, and the
  // errno of the last failed write.
  uint64_t lost_ = 0;
  int failed_errno_ = 0;
  // lost_ > 0, readable without the lock.
  std::atomic<bool> failing_{false};
};

// A CK_RV as the audit log writes it ("CKR_OK" or "0x000000a0").
std::string AuditResult(uint64_t rv);

}  // namespace hsm::server

#endif  // HSM_SERVER_AUDIT_LOG_H_
