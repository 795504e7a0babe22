// Slot and token management (PKCS #11 2.40 section 5.5).
#include <algorithm>

#include "client/call.h"
#include "client/functions.h"

namespace hsm::client {
namespace {

CK_VERSION ToVersion(const v1::Version& version) {
  return CK_VERSION{static_cast<CK_BYTE>(version.major()), static_cast<CK_BYTE>(version.minor())};
}

// Fills a caller's array per the length-query convention.
template <typename T, typename Repeated>
CK_RV DeliverList(const Repeated& items, T* out, CK_ULONG_PTR count) {
  const CK_ULONG needed = static_cast<CK_ULONG>(items.size());
  if (out == nullptr) {
    *count = needed;
    return CKR_OK;
  }
  if (*count < needed) {
    *count = needed;
    return CKR_BUFFER_TOO_SMALL;
  }
  std::copy(items.begin(), items.end(), out);
  *count = needed;
  return CKR_OK;
}

}  // namespace

CK_RV GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount) {
  LibraryRef library;
  if (!library) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (pulCount == nullptr) return CKR_ARGUMENTS_BAD;
  v1::GetSlotListRequest request;
  request.set_token_present(tokenPresent != CK_FALSE);
  v1::GetSlotListReply reply;
  CK_RV rv = library->connection.Call(&v1::Pkcs11::Stub::PrepareAsyncGetSlotList, request, &reply);
  if (rv != CKR_OK) return rv;
  return DeliverList(reply.slot_ids(), pSlotList, pulCount);
}

CK_RV GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo) {
  LibraryRef library;
  if (!library) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
  v1::SlotRequest request;
  request.set_slot_id(slotID);
  v1::GetSlotInfoReply reply;
  CK_RV rv = library->connection.Call(&v1::Pkcs11::Stub::PrepareAsyncGetSlotInfo, request, &reply);
  if (rv != CKR_OK) return rv;
  const v1::SlotInfo& info = reply.info();
  CopyPadded(pInfo->slotDescription, sizeof(pInfo->slotDescription), info.description());
  CopyPadded(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), info.manufacturer());
  pInfo->flags = info.flags();
  pInfo->hardwareVersion = ToVersion(info.hardware_version());
  pInfo->firmwareVersion = ToVersion(info.firmware_version());
  return CKR_OK;
}

CK_RV GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo) {
  LibraryRef library;
  if (!library) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
  v1::SlotRequest request;
  request.set_slot_id(slotID);
  v1::GetTokenInfoReply reply;
  CK_RV rv = library->connection.Call(&v1::Pkcs11::Stub::PrepareAsyncGetTokenInfo, request, &reply);
  if (rv != CKR_OK) return rv;
  const v1::TokenInfo& info = reply.info();
  CopyPadded(pInfo->label, sizeof(pInfo->label), info.label());
  CopyPadded(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), info.manufacturer());
  CopyPadded(pInfo->model, sizeof(pInfo->model), info.model());
  CopyPadded(pInfo->serialNumber, sizeof(pInfo->serialNumber), info.serial_number());
  pInfo->flags = info.flags();
  // The library's spare sessions are not the application's (session_pool.h).
  const SessionPool::Counts spares = library->spares.CountOn(slotID, library->connection.epoch());
  pInfo->ulMaxSessionCount = info.max_session_count();
  pInfo->ulSessionCount = info.session_count() - std::min<uint64_t>(spares.all, info.session_count());
  pInfo->ulMaxRwSessionCount = info.max_rw_session_count();
  pInfo->ulRwSessionCount = info.rw_session_count() - std::min<uint64_t>(spares.read_write, info.rw_session_count());
  pInfo->ulMaxPinLen = info.max_pin_len();
  pInfo->ulMinPinLen = info.min_pin_len();
  pInfo->ulTotalPublicMemory = info.total_public_memory();
  pInfo->ulFreePublicMemory = info.free_public_memory();
  pInfo->ulTotalPrivateMemory = info.total_private_memory();
  pInfo->ulFreePrivateMemory = info.free_private_memory();
  pInfo->hardwareVersion = ToVersion(info.hardware_version());
  pInfo->firmwareVersion = ToVersion(info.firmware_version());
  CopyPadded(pInfo->utcTime, sizeof(pInfo->utcTime), info.utc_time());
  return CKR_OK;
}

CK_RV GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList, CK_ULONG_PTR pulCount) {
  LibraryRef library;
  if (!library) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (pulCount == nullptr) return CKR_ARGUMENTS_BAD;
  v1::SlotRequest request;
  request.set_slot_id(slotID);
  v1::GetMechanismListReply reply;
  CK_RV rv = library->connection.Call(&v1::Pkcs11::Stub::PrepareAsyncGetMechanismList, request, &reply);
  if (rv != CKR_OK) return rv;
  return DeliverList(reply.types(), pMechanismList, pulCount);
}

CK_RV GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo) {
  LibraryRef library;
  if (!library) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
  v1::GetMechanismInfoRequest request;
  request.set_slot_id(slotID);
  request.set_type(type);
  v1::GetMechanismInfoReply reply;
  CK_RV rv = library->connection.Call(&v1::Pkcs11::Stub::PrepareAsyncGetMechanismInfo, request, &reply);
  if (rv != CKR_OK) return rv;
  pInfo->ulMinKeySize = reply.min_key_size();
  pInfo->ulMaxKeySize = reply.max_key_size();
  pInfo->flags = reply.flags();
  return CKR_OK;
}

CK_RV InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel) {
  LibraryRef library;
  if (!library) return CKR_CRYPTOKI_NOT_INITIALIZED;
  // No protected authentication path: the PIN must be given.
  if (pPin == nullptr || pLabel == nullptr) return CKR_ARGUMENTS_BAD;
  v1::InitTokenRequest request;
  request.set_slot_id(slotID);
  request.set_so_pin(reinterpret_cast<const char*>(pPin), ulPinLen);
  request.set_label(reinterpret_cast<const char*>(pLabel), 32);
  v1::StatusReply reply;
  InitCache::Change destroys_objects(library->inits);
  ReleaseSpareSessions(*library, slotID);  // C_InitToken is refused while sessions exist
  return library->connection.Call(&v1::Pkcs11::Stub::PrepareAsyncInitToken, request, &reply);
}

CK_RV InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (pPin == nullptr) return CKR_ARGUMENTS_BAD;
  v1::InitPinRequest request;
  request.set_pin(reinterpret_cast<const char*>(pPin), ulPinLen);
  v1::StatusReply reply;
  InitCache::Change changes_pin(call.library().inits);
  return call.Run(&v1::Pkcs11::Stub::PrepareAsyncInitPIN, request, &reply);
}

CK_RV SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
             CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (pOldPin == nullptr || pNewPin == nullptr) return CKR_ARGUMENTS_BAD;
  v1::SetPinRequest request;
  request.set_old_pin(reinterpret_cast<const char*>(pOldPin), ulOldLen);
  request.set_new_pin(reinterpret_cast<const char*>(pNewPin), ulNewLen);
  v1::StatusReply reply;
  InitCache::Change changes_pin(call.library().inits);
  return call.Run(&v1::Pkcs11::Stub::PrepareAsyncSetPIN, request, &reply);
}

}  // namespace hsm::client
