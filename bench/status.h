// The outcome of one step of a benchmark: fine, a PKCS #11 call that failed
// (which one, and its CK_RV), or "nothing left to do" (a scenario that
// consumes a finite pool, such as destroy-token-objects, has emptied it).
#ifndef HSM_BENCH_STATUS_H_
#define HSM_BENCH_STATUS_H_

#include <string>

#include "third_party/pkcs11/pkcs11.h"

namespace hsm::bench {

struct Status {
  CK_RV rv = CKR_OK;
  std::string call;        // the failing function, e.g. "C_Sign"
  bool exhausted = false;  // the scenario ran out of work: stop, not an error

  bool ok() const { return rv == CKR_OK && !exhausted; }
  static Status Ok() { return Status(); }
  static Status Failed(std::string call, CK_RV rv) { return Status{rv, std::move(call), false}; }
  static Status Exhausted() { return Status{CKR_OK, "", true}; }
  // "C_Sign returned CKR_KEY_HANDLE_INVALID (0x60)"
  std::string ToString() const;
};

// The name of a CK_RV, or its number in hex.
std::string RvName(CK_RV rv);

}  // namespace hsm::bench

// Evaluates a PKCS #11 call; on failure returns a Status naming it.
#define BENCH_P11(name, expr)                                        \
  do {                                                               \
    CK_RV bench_rv_ = (expr);                                        \
    if (bench_rv_ != CKR_OK) return ::hsm::bench::Status::Failed(name, bench_rv_); \
  } while (0)

// Returns a Status that is not ok().
#define BENCH_RETURN_IF_ERROR(expr)           \
  do {                                        \
    ::hsm::bench::Status bench_s_ = (expr);   \
    if (!bench_s_.ok()) return bench_s_;      \
  } while (0)

#endif  // HSM_BENCH_STATUS_H_
