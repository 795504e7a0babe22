// What an audited call touched, noted by the Hsm methods as they resolve
// objects and read by the gRPC adapter when it writes the audit record. One
// call runs on one thread from start to end, so the note is thread-local.
#ifndef HSM_SERVER_AUDIT_NOTE_H_
#define HSM_SERVER_AUDIT_NOTE_H_

#include <cstdint>
#include <string>

#include "storage/object_store.h"

namespace hsm::server {

struct AuditNote {
  uint64_t object = 0;
  std::string label;
  std::string id_hex;
};

// Notes the object a call resolved or created (the last one noted wins).
void NoteObject(uint64_t handle, const storage::AttributeSet& attributes);
// Takes the current call's note, leaving it empty.
AuditNote TakeAuditNote();

}  // namespace hsm::server

#endif  // HSM_SERVER_AUDIT_NOTE_H_
