// Object management (PKCS #11 2.40 section 5.7). Token objects live in the
// object store; session objects in their application's memory. A session
// sees its token's objects, and private ones only while the user is logged in.
#include <algorithm>

#include "server/audit_note.h"
#include "server/blocking.h"
#include "server/hsm.h"
#include "server/key_import.h"
#include "server/object_templates.h"
#include "server/rv.h"

namespace hsm::server {
namespace {

bool Visible(const AttributeSet& object, LoginState login) {
  return login == LoginState::kUser || !BoolOf(object, CKA_PRIVATE, false);
}

LoginState LoginOf(Application& app, uint64_t slot_id) {
  std::lock_guard<std::mutex> lock(app.mutex());
  return app.login(slot_id);
}

// The size of a value as stored, for C_GetObjectSize.
uint64_t ValueSize(const hsm::v1::Attribute& value) {
  switch (value.value_case()) {
    case hsm::v1::Attribute::kBytes:
      return value.bytes().size();
    case hsm::v1::Attribute::kUlong:
      return sizeof(uint64_t);
    case hsm::v1::Attribute::kBoolean:
      return 1;
    default:
      return value.ByteSizeLong();
  }
}

}  // namespace

absl::StatusOr<Hsm::ObjectView> Hsm::LoadObject(Application& app, const Session& session, uint64_t handle) {
  ObjectView view;
  view.handle = handle;
  LoginState login;
  if (handle >= kFirstSessionObjectHandle) {
    std::lock_guard<std::mutex> lock(app.mutex());
    const SessionObject* object = app.FindSessionObject(handle);
    if (object == nullptr || object->slot_id != session.slot_id) return RvError(CKR_OBJECT_HANDLE_INVALID);
    view.attributes = object->attributes;
    login = app.login(session.slot_id);
  } else {
    if (handle == CK_INVALID_HANDLE) return RvError(CKR_OBJECT_HANDLE_INVALID);
    HSM_ASSIGN_OR_RETURN(std::optional<AttributeSet> stored, objects_->Load(TokenOf(app, session), handle));
    if (!stored.has_value()) return RvError(CKR_OBJECT_HANDLE_INVALID);
    view.on_token = true;
    view.attributes = *std::move(stored);
    login = LoginOf(app, session.slot_id);
  }
  if (!Visible(view.attributes, login)) return RvError(CKR_OBJECT_HANDLE_INVALID);
  NoteObject(view.handle, view.attributes);
  return view;
}

absl::StatusOr<uint64_t> Hsm::StoreNewObject(Application& app, const Session& session, const AttributeSet& object) {
  const bool on_token = BoolOf(object, CKA_TOKEN, false);
  if (on_token && !session.read_write) return RvError(CKR_SESSION_READ_ONLY);
  if (BoolOf(object, CKA_PRIVATE, false) && LoginOf(app, session.slot_id) != LoginState::kUser) {
    return RvError(CKR_USER_NOT_LOGGED_IN);
  }
  if (on_token) {
    HSM_RETURN_IF_ERROR(CheckObjectQuota(app.tenant_id()));
    absl::StatusOr<uint64_t> id = objects_->Create(TokenOf(app, session), object, SecretTypes(object));
    if (id.ok()) NoteObject(*id, object);
    return id;
  }
  std::lock_guard<std::mutex> lock(app.mutex());
  if (app.FindSession(session.id) == nullptr) return RvError(CKR_SESSION_HANDLE_INVALID);
  const std::optional<uint64_t> handle =
      app.AddSessionObject(SessionObject{session.slot_id, session.id, object}, options_.max_session_object_bytes);
  if (!handle.has_value()) return RvError(CKR_DEVICE_MEMORY, "the application's session objects are full");
  NoteObject(*handle, object);
  return *handle;
}

absl::Status Hsm::SaveObject(Application& app, const Session& session, const ObjectView& object) {
  if (object.on_token) {
    absl::Status status = objects_->Replace(TokenOf(app, session), object.handle, object.attributes,
                                            SecretTypes(object.attributes));
    if (absl::IsNotFound(status)) return RvError(CKR_OBJECT_HANDLE_INVALID);
    return status;
  }
  std::lock_guard<std::mutex> lock(app.mutex());
  switch (app.SetSessionObjectAttributes(object.handle, object.attributes, options_.max_session_object_bytes)) {
    case Application::SetResult::kDone:
      return absl::OkStatus();
    case Application::SetResult::kNoSuchObject:
      return RvError(CKR_OBJECT_HANDLE_INVALID);
    case Application::SetResult::kOverLimit:
      return RvError(CKR_DEVICE_MEMORY, "the application's session objects are full");
  }
  return RvError(CKR_GENERAL_ERROR);
}

absl::Status Hsm::CreateObject(Application& app, const v1::CreateObjectRequest& request, v1::ObjectReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  const bool security_officer = LoginOf(app, session.slot_id) == LoginState::kSecurityOfficer;
  HSM_ASSIGN_OR_RETURN(AttributeSet object, NewObject(request.template_(), Origin::kCreate, security_officer));
  HSM_RETURN_IF_ERROR(CheckImportedKey(object));
  HSM_ASSIGN_OR_RETURN(uint64_t handle, StoreNewObject(app, session, object));
  reply->set_object(handle);
  return ReplaceOlderTrust(app, session, object, handle);
}

absl::Status Hsm::ReplaceOlderTrust(Application& app, const Session& session, const AttributeSet& object,
                                    uint64_t handle) {
  // NSS changes a certificate's trust (certutil -M) by creating a new trust
  // object for the same issuer and serial number, never by changing or
  // destroying the old one, and then reads whichever a search returns first.
  // NSS's own database keeps one trust object per certificate; so does hsmd.
  constexpr uint64_t kNssTrustClass = CKO_VENDOR_DEFINED | 0x4E534350 | 3;
  if (UlongOf(object, CKA_CLASS, 0) != kNssTrustClass || !BoolOf(object, CKA_TOKEN, false)) {
    return absl::OkStatus();
  }
  auto issuer = object.find(CKA_ISSUER), serial = object.find(CKA_SERIAL_NUMBER);
  if (issuer == object.end() || serial == object.end()) return absl::OkStatus();
  const AttributeSet same_certificate = {{CKA_CLASS, object.at(CKA_CLASS)},
                                         {CKA_ISSUER, issuer->second},
                                         {CKA_SERIAL_NUMBER, serial->second}};
  HSM_ASSIGN_OR_RETURN(std::vector<uint64_t> older,
                       objects_->Find(TokenOf(app, session), same_certificate,
                                      [&](const AttributeSet& plain, const std::set<uint64_t>& sealed) {
                                        return Matches(plain, same_certificate, sealed);
                                      }));
  for (uint64_t id : older) {
    if (id == handle) continue;
    absl::Status destroyed = objects_->Destroy(TokenOf(app, session), id);
    if (!destroyed.ok() && !absl::IsNotFound(destroyed)) return destroyed;
  }
  return absl::OkStatus();
}

absl::Status Hsm::CopyObject(Application& app, const v1::CopyObjectRequest& request, v1::ObjectReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  HSM_ASSIGN_OR_RETURN(ObjectView source, LoadObject(app, session, request.object()));
  if (!BoolOf(source.attributes, CKA_COPYABLE, true)) return RvError(CKR_ACTION_PROHIBITED);
  const bool security_officer = LoginOf(app, session.slot_id) == LoginState::kSecurityOfficer;
  AttributeSet copy = source.attributes;
  HSM_RETURN_IF_ERROR(ApplyChanges(copy, request.template_(), security_officer, /*copying=*/true));
  HSM_ASSIGN_OR_RETURN(uint64_t handle, StoreNewObject(app, session, copy));
  reply->set_object(handle);
  return absl::OkStatus();
}

absl::Status Hsm::DestroyObject(Application& app, const v1::ObjectRequest& request, v1::StatusReply*) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  HSM_ASSIGN_OR_RETURN(ObjectView object, LoadObject(app, session, request.object()));
  if (!BoolOf(object.attributes, CKA_DESTROYABLE, true)) return RvError(CKR_ACTION_PROHIBITED);
  if (!object.on_token) {
    std::lock_guard<std::mutex> lock(app.mutex());
    app.RemoveSessionObject(object.handle);
    return absl::OkStatus();
  }
  if (!session.read_write) return RvError(CKR_SESSION_READ_ONLY);
  keys_.Forget(TokenOf(app, session), object.handle);
  absl::Status status = objects_->Destroy(TokenOf(app, session), object.handle);
  if (absl::IsNotFound(status)) return RvError(CKR_OBJECT_HANDLE_INVALID);
  return status;
}

absl::Status Hsm::GetObjectSize(Application& app, const v1::ObjectRequest& request, v1::GetObjectSizeReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  HSM_ASSIGN_OR_RETURN(ObjectView object, LoadObject(app, session, request.object()));
  uint64_t size = 0;
  for (const auto& [type, value] : object.attributes) size += sizeof(uint64_t) + ValueSize(value);
  reply->set_size(size);
  return absl::OkStatus();
}

absl::Status Hsm::GetAttributeValue(Application& app, const v1::GetAttributeValueRequest& request,
                                    v1::GetAttributeValueReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  HSM_ASSIGN_OR_RETURN(ObjectView object, LoadObject(app, session, request.object()));
  for (const v1::AttributeQuery& query : request.queries()) {
    v1::AttributeResult* result = reply->add_results();
    result->set_rv(Readable(object.attributes, query.type()));
    if (result->rv() != CKR_OK) continue;
    const hsm::v1::Attribute& value = object.attributes.at(query.type());
    if (value.value_case() != hsm::v1::Attribute::kBytes) {
      *result->mutable_attribute() = value;  // small; the client sizes it for its platform
      continue;
    }
    result->set_length(value.bytes().size());
    if (query.output().length_only()) continue;
    if (query.output().buffer_len() < value.bytes().size()) {
      result->set_rv(CKR_BUFFER_TOO_SMALL);
      continue;
    }
    *result->mutable_attribute() = value;
  }
  return absl::OkStatus();
}

absl::Status Hsm::SetAttributeValue(Application& app, const v1::SetAttributeValueRequest& request,
                                    v1::StatusReply*) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  HSM_ASSIGN_OR_RETURN(ObjectView object, LoadObject(app, session, request.object()));
  if (!BoolOf(object.attributes, CKA_MODIFIABLE, true)) return RvError(CKR_ACTION_PROHIBITED);
  if (object.on_token && !session.read_write) return RvError(CKR_SESSION_READ_ONLY);
  const bool security_officer = LoginOf(app, session.slot_id) == LoginState::kSecurityOfficer;
  HSM_RETURN_IF_ERROR(ApplyChanges(object.attributes, request.template_(), security_officer, /*copying=*/false));
  if (object.on_token) keys_.Forget(TokenOf(app, session), object.handle);
  return SaveObject(app, session, object);
}

absl::Status Hsm::FindObjectsInit(Application& app, const v1::FindObjectsInitRequest& request,
                                  v1::FindObjectsInitReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  if (session.find != nullptr) return RvError(CKR_OPERATION_ACTIVE);
  // A template naming one attribute twice with different values matches nothing.
  absl::StatusOr<AttributeSet> query = ToAttributeSet(request.template_());
  auto find = std::make_shared<FindOperation>(app.operation_memory());
  if (query.ok()) {
    const LoginState login = LoginOf(app, session.slot_id);
    HSM_ASSIGN_OR_RETURN(
        find->handles,
        objects_->Find(TokenOf(app, session), *query,
                       [&](const AttributeSet& plain, const std::set<uint64_t>& sealed) {
                         return Visible(plain, login) && Matches(plain, *query, sealed);
                       },
                       // Other clients' calls must not wait for the rest of it.
                       [] { LongCall(); }));
    std::lock_guard<std::mutex> lock(app.mutex());
    for (uint64_t handle : app.SessionObjectsOn(session.slot_id)) {
      const AttributeSet& object = app.FindSessionObject(handle)->attributes;
      if (Visible(object, login) && Matches(object, *query, SecretTypes(object))) find->handles.push_back(handle);
    }
  }
  // The first matches go back now; only a search with more stays open here.
  const size_t first = std::min<size_t>(request.prefetch(), find->handles.size());
  reply->set_complete(first == find->handles.size());
  if (!reply->complete() &&
      !find->kept.Resize(find->handles.size() * sizeof(uint64_t), options_.max_operation_bytes)) {
    return RvError(CKR_DEVICE_MEMORY, "the application's operations keep too much");
  }
  for (size_t i = 0; i < first; ++i) reply->add_objects(find->handles[i]);
  find->next = first;
  std::lock_guard<std::mutex> lock(app.mutex());
  Session* live = app.FindSession(request.session());
  if (live == nullptr) return RvError(CKR_SESSION_HANDLE_INVALID);
  if (live->find != nullptr) return RvError(CKR_OPERATION_ACTIVE);
  if (!reply->complete()) live->find = std::move(find);
  return absl::OkStatus();
}

absl::Status Hsm::FindObjects(Application& app, const v1::FindObjectsRequest& request,
                              v1::FindObjectsReply* reply) {
  std::lock_guard<std::mutex> lock(app.mutex());
  Session* session = app.FindSession(request.session());
  if (session == nullptr) return RvError(CKR_SESSION_HANDLE_INVALID);
  if (session->find == nullptr) return RvError(CKR_OPERATION_NOT_INITIALIZED);
  FindOperation& find = *session->find;
  const size_t count = std::min<size_t>(request.max_objects(), find.handles.size() - find.next);
  for (size_t i = 0; i < count; ++i) reply->add_objects(find.handles[find.next + i]);
  find.next += count;
  return absl::OkStatus();
}

absl::Status Hsm::FindObjectsFinal(Application& app, const v1::SessionRequest& request, v1::StatusReply*) {
  std::lock_guard<std::mutex> lock(app.mutex());
  Session* session = app.FindSession(request.session());
  if (session == nullptr) return RvError(CKR_SESSION_HANDLE_INVALID);
  if (session->find == nullptr) return RvError(CKR_OPERATION_NOT_INITIALIZED);
  session->find.reset();
  return absl::OkStatus();
}

}  // namespace hsm::server
