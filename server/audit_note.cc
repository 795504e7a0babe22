#include "server/audit_note.h"

#include "absl/strings/escaping.h"
#include "server/attribute_rules.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::server {
namespace {

thread_local AuditNote current_note;
thread_local std::optional<DeferredInitNote> current_deferred_init;

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
  current_deferred_init.reset();
  return note;
}

void NoteDeferredInit(const std::string& operation, uint64_t session, uint64_t mechanism, uint64_t rv) {
  current_deferred_init = DeferredInitNote{operation, session, mechanism, rv, current_note};
}

std::optional<DeferredInitNote> TakeDeferredInit() {
  std::optional<DeferredInitNote> note = std::move(current_deferred_init);
  current_deferred_init.reset();
  return note;
}

AuditEvent DeferredInitEvent(const DeferredInitNote& note) {
  AuditEvent event;
  event.operation = note.operation;
  event.session = note.session;
  event.mechanism = note.mechanism;
  event.has_mechanism = true;
  event.object = note.object.object;
  event.object_label = note.object.label;
  event.object_id_hex = note.object.id_hex;
  event.result = AuditResult(note.rv);
  event.detail = "deferred by the client into the operation's first data call";
  return event;
}

}  // namespace hsm::server
