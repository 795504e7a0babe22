// Object management (PKCS #11 2.40 section 5.7).
#include <algorithm>

#include "client/attribute_codec.h"
#include "client/call.h"
#include "client/functions.h"

namespace hsm::client {
namespace {

// Whether the session holds a deferred Init on `key`.
bool DefersInitOn(const SessionEntry& entry, CK_OBJECT_HANDLE key) {
  for (const OperationTrack& track : entry.operations) {
    if (track.deferred_init.has_value() && track.deferred_init->key() == key) return true;
  }
  return false;
}

// NSS reads CKA_ALWAYS_AUTHENTICATE of the key after every C_SignInit. When
// the template is that attribute alone, the Init was deferred (so its key is
// one whose value an earlier Init told), the reply is made here, as hsmd
// makes it (a boolean result, sized and copied by the same code as hsmd's).
// Only then: should another application have destroyed or changed the key,
// the answer is stale only where the deferred Init's failure will tell.
// False if the call must go to hsmd.
bool AnswerLocally(SessionCall& call, CK_OBJECT_HANDLE object, const CK_ATTRIBUTE* attributes, CK_ULONG count,
                   v1::GetAttributeValueReply* reply) {
  if (count != 1 || attributes[0].type != CKA_ALWAYS_AUTHENTICATE) return false;
  const SessionEntry& entry = call.session();
  if (!DefersInitOn(entry, object)) return false;
  std::optional<bool> value = call.library().inits.AlwaysAuthenticate(entry.epoch, entry.slot_id, object);
  if (!value.has_value()) return false;
  v1::AttributeResult* result = reply->add_results();
  result->set_rv(CKR_OK);
  result->mutable_attribute()->set_type(CKA_ALWAYS_AUTHENTICATE);
  result->mutable_attribute()->set_boolean(*value);
  return true;
}

// Runs `request`, a call that changes object `object` (destroys it, or its
// attributes), after the deferred Inits that name it: their outcome would
// change. Meanwhile nothing about the object is learned or used.
template <typename Request>
CK_RV ChangeObject(SessionCall& call, Rpc<Request, v1::StatusReply> rpc, CK_OBJECT_HANDLE object,
                   Request& request) {
  const uint64_t slot_id = call.session().slot_id;
  InitCache::Change changes_key(call.library().inits, slot_id, object);
  SendDeferredInitsOn(call.library(), slot_id,
                      [object](const v1::OperationInitRequest& init) { return init.key() == object; });
  v1::StatusReply reply;
  return call.Run(rpc, request, &reply);
}

}  // namespace

CK_RV CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                   CK_OBJECT_HANDLE_PTR phObject) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (phObject == nullptr || pTemplate == nullptr) return CKR_ARGUMENTS_BAD;
  v1::CreateObjectRequest request;
  CK_RV rv = EncodeTemplate(pTemplate, ulCount, request.mutable_template_());
  if (rv != CKR_OK) return rv;
  v1::ObjectReply reply;
  rv = call.Run(&v1::Pkcs11::Stub::PrepareAsyncCreateObject, request, &reply);
  if (rv == CKR_OK) *phObject = reply.object();
  return rv;
}

CK_RV CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                 CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (phNewObject == nullptr) return CKR_ARGUMENTS_BAD;
  v1::CopyObjectRequest request;
  request.set_object(hObject);
  CK_RV rv = EncodeTemplate(pTemplate, ulCount, request.mutable_template_());
  if (rv != CKR_OK) return rv;
  v1::ObjectReply reply;
  rv = call.Run(&v1::Pkcs11::Stub::PrepareAsyncCopyObject, request, &reply);
  if (rv == CKR_OK) *phNewObject = reply.object();
  return rv;
}

CK_RV DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  v1::ObjectRequest request;
  request.set_object(hObject);
  return ChangeObject(call, &v1::Pkcs11::Stub::PrepareAsyncDestroyObject, hObject, request);
}

CK_RV GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (pulSize == nullptr) return CKR_ARGUMENTS_BAD;
  v1::ObjectRequest request;
  request.set_object(hObject);
  v1::GetObjectSizeReply reply;
  CK_RV rv = call.Run(&v1::Pkcs11::Stub::PrepareAsyncGetObjectSize, request, &reply);
  if (rv == CKR_OK) *pulSize = reply.size();
  return rv;
}

CK_RV GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                        CK_ULONG ulCount) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (pTemplate == nullptr && ulCount != 0) return CKR_ARGUMENTS_BAD;
  v1::GetAttributeValueRequest request;
  request.set_object(hObject);
  for (CK_ULONG i = 0; i < ulCount; ++i) {
    v1::AttributeQuery* query = request.add_queries();
    query->set_type(pTemplate[i].type);
    query->mutable_output()->set_length_only(pTemplate[i].pValue == nullptr);
    query->mutable_output()->set_buffer_len(pTemplate[i].pValue == nullptr ? 0 : pTemplate[i].ulValueLen);
  }
  v1::GetAttributeValueReply reply;
  CK_RV rv = AnswerLocally(call, hObject, pTemplate, ulCount, &reply)
                 ? CKR_OK
                 : call.Run(&v1::Pkcs11::Stub::PrepareAsyncGetAttributeValue, request, &reply);
  if (NamesBadKey(rv)) call.library().inits.ForgetKey(call.session().slot_id, hObject);
  if (rv != CKR_OK) return rv;
  if (reply.results_size() != static_cast<int>(ulCount)) return CKR_DEVICE_ERROR;
  // Every attribute is processed; the result names the gravest problem met
  // (PKCS #11 2.40 section 5.7, C_GetAttributeValue).
  bool sensitive = false, invalid = false, too_small = false;
  for (CK_ULONG i = 0; i < ulCount; ++i) {
    const v1::AttributeResult& result = reply.results(static_cast<int>(i));
    CK_ATTRIBUTE& out = pTemplate[i];
    switch (result.rv()) {
      case CKR_OK:
        if (result.attribute().value_case() == v1::Attribute::VALUE_NOT_SET) {
          out.ulValueLen = result.length();  // a length query: hsmd sent no bytes
        } else {
          too_small |= DecodeInto(result.attribute(), out) == CKR_BUFFER_TOO_SMALL;
        }
        break;
      case CKR_BUFFER_TOO_SMALL:
        if (out.pValue == nullptr) {
          out.ulValueLen = result.length();
        } else {
          out.ulValueLen = CK_UNAVAILABLE_INFORMATION;
          too_small = true;
        }
        break;
      case CKR_ATTRIBUTE_SENSITIVE:
        out.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        sensitive = true;
        break;
      default:
        out.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        invalid = true;
        break;
    }
  }
  if (sensitive) return CKR_ATTRIBUTE_SENSITIVE;
  if (invalid) return CKR_ATTRIBUTE_TYPE_INVALID;
  if (too_small) return CKR_BUFFER_TOO_SMALL;
  return CKR_OK;
}

CK_RV SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                        CK_ULONG ulCount) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (pTemplate == nullptr && ulCount != 0) return CKR_ARGUMENTS_BAD;
  v1::SetAttributeValueRequest request;
  request.set_object(hObject);
  CK_RV rv = EncodeTemplate(pTemplate, ulCount, request.mutable_template_());
  if (rv != CKR_OK) return rv;
  return ChangeObject(call, &v1::Pkcs11::Stub::PrepareAsyncSetAttributeValue, hObject, request);
}

// Matches hsmd sends with the search's start: most searches (NSS looks up one
// key or certificate) are one round trip.
constexpr uint64_t kFindPrefetch = 64;

CK_RV FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (pTemplate == nullptr && ulCount != 0) return CKR_ARGUMENTS_BAD;
  if (call.session().find.has_value()) return CKR_OPERATION_ACTIVE;
  v1::FindObjectsInitRequest request;
  CK_RV rv = EncodeTemplate(pTemplate, ulCount, request.mutable_template_());
  if (rv != CKR_OK) return rv;
  request.set_prefetch(kFindPrefetch);
  v1::FindObjectsInitReply reply;
  rv = call.Run(&v1::Pkcs11::Stub::PrepareAsyncFindObjectsInit, request, &reply);
  if (rv != CKR_OK) return rv;
  ClientFind find;
  find.handles.assign(reply.objects().begin(), reply.objects().end());
  find.server_has_more = !reply.complete();
  find.server_holds_search = !reply.complete();
  call.library().sessions.Update(hSession, [&](SessionEntry& entry) { entry.find = std::move(find); });
  return CKR_OK;
}

CK_RV FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject, CK_ULONG ulMaxObjectCount,
                  CK_ULONG_PTR pulObjectCount) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (phObject == nullptr || pulObjectCount == nullptr) return CKR_ARGUMENTS_BAD;
  if (!call.session().find.has_value()) return CKR_OPERATION_NOT_INITIALIZED;
  ClientFind find = *call.session().find;
  CK_ULONG count = 0;
  for (;;) {
    const CK_ULONG local = std::min<CK_ULONG>(ulMaxObjectCount - count, find.handles.size() - find.next);
    std::copy(find.handles.begin() + find.next, find.handles.begin() + find.next + local, phObject + count);
    find.next += local;
    count += local;
    // Fill the caller's buffer while hsmd holds more: some applications stop
    // at the first page shorter than they asked for.
    if (count == ulMaxObjectCount || !find.server_has_more) break;
    v1::FindObjectsRequest request;
    request.set_max_objects(std::max<CK_ULONG>(ulMaxObjectCount - count, kFindPrefetch));
    v1::FindObjectsReply reply;
    CK_RV rv = call.Run(&v1::Pkcs11::Stub::PrepareAsyncFindObjects, request, &reply);
    if (rv != CKR_OK) return rv;
    find.handles.assign(reply.objects().begin(), reply.objects().end());
    find.next = 0;
    // A short page means hsmd has no more; its state ends at C_FindObjectsFinal.
    if (static_cast<uint64_t>(reply.objects_size()) < request.max_objects()) find.server_has_more = false;
  }
  *pulObjectCount = count;
  call.library().sessions.Update(hSession, [&](SessionEntry& entry) { entry.find = std::move(find); });
  return CKR_OK;
}

CK_RV FindObjectsFinal(CK_SESSION_HANDLE hSession) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (!call.session().find.has_value()) return CKR_OPERATION_NOT_INITIALIZED;
  const bool server_state = call.session().find->server_holds_search;
  call.library().sessions.Update(hSession, [](SessionEntry& entry) { entry.find.reset(); });
  if (!server_state) return CKR_OK;  // a complete search left nothing on hsmd
  v1::SessionRequest request;
  v1::StatusReply reply;
  return call.Run(&v1::Pkcs11::Stub::PrepareAsyncFindObjectsFinal, request, &reply);
}

}  // namespace hsm::client
