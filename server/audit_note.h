// What an audited call touched, noted by the Hsm methods as they resolve
// objects and read by the gRPC adapter when it writes the audit record. One
// call runs on one thread from start to end, so the note is thread-local.
#ifndef HSM_SERVER_AUDIT_NOTE_H_
#define HSM_SERVER_AUDIT_NOTE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "server/audit_log.h"
#include "storage/object_store.h"

namespace hsm::server {

struct AuditNote {
  uint64_t object = 0;
  std::string label;
  std::string id_hex;
};

// Notes the object a call resolved or created (the last one noted wins).
void NoteObject(uint64_t handle, const storage::AttributeSet& attributes);
// Takes the current call's note, leaving it empty (the deferred Init's too).
AuditNote TakeAuditNote();

// A C_*Init the client library deferred into a data call (DataRequest.init
// ...). The adapter audits RPCs by name, and C_Sign is not audited: the Init
// leaves this note so that the adapter can write the record the Init RPC
// would have made (DeferredInitEvent).
struct DeferredInitNote {
  std::string operation;  // "C_SignInit", "C_DecryptInit" ...
  uint64_t session = 0;
  uint64_t mechanism = 0;
  uint64_t rv = 0;
  AuditNote object;  // the key the Init resolved
};

// Notes the deferred Init the current call ran; the object noted so far
// (the Init's key) goes with it.
void NoteDeferredInit(const std::string& operation, uint64_t session, uint64_t mechanism, uint64_t rv);
// Takes the current call's deferred Init, if it ran one.
std::optional<DeferredInitNote> TakeDeferredInit();
// The audit record of a deferred Init, but for who called (tenant, client,
// application), which only the adapter knows.
AuditEvent DeferredInitEvent(const DeferredInitNote& note);

}  // namespace hsm::server

#endif  // HSM_SERVER_AUDIT_NOTE_H_
