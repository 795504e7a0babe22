#include "server/audit_note.h"

#include "absl/strings/escaping.h"
#include "server/attribute_rules.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::server {
namespace {

thread_local AuditNote current_note;

}  // namespace

void NoteObject(uint64_t handle, const storage::AttributeSet& attributes) {
  current_note.object = handle;
  const std::string* label = BytesOf(attributes, CKA_LABEL);
  const std::string* id = BytesOf(attributes, CKA_ID);
  current_note.label = label != nullptr ? *label : "";
  current_note.id_hex = id != nullptr ? absl::BytesToHexString(*id) : "";
}

AuditNote TakeAuditNote() {
  AuditNote note = std::move(current_note);
  current_note = AuditNote();
  return note;
}

}  // namespace hsm::server
