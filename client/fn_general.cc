// General-purpose functions (PKCS #11 2.40 section 5.4) and the legacy
// parallel-function and slot-event calls.
#include "client/call.h"
#include "client/functions.h"

namespace hsm::client {

CK_RV Initialize(CK_VOID_PTR pInitArgs) { return InitializeLibrary(pInitArgs); }

CK_RV Finalize(CK_VOID_PTR pReserved) { return FinalizeLibrary(pReserved); }

CK_RV GetInfo(CK_INFO_PTR pInfo) {
  LibraryRef library;
  if (!library) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
  pInfo->cryptokiVersion = {CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR};
  CopyPadded(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "hsmd network HSM");
  pInfo->flags = 0;
  CopyPadded(pInfo->libraryDescription, sizeof(pInfo->libraryDescription), "hsm PKCS #11 client");
  pInfo->libraryVersion = {0, 1};
  return CKR_OK;
}

CK_RV GetFunctionStatus(CK_SESSION_HANDLE hSession) {
  SessionCall call(hSession);
  return call.status() != CKR_OK ? call.status() : CKR_FUNCTION_NOT_PARALLEL;
}

CK_RV CancelFunction(CK_SESSION_HANDLE hSession) {
  SessionCall call(hSession);
  return call.status() != CKR_OK ? call.status() : CKR_FUNCTION_NOT_PARALLEL;
}

CK_RV WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved) {
  LibraryRef library;
  if (!library) return CKR_CRYPTOKI_NOT_INITIALIZED;
  // Slots never change while an application runs: there is no event to wait for.
  return CKR_FUNCTION_NOT_SUPPORTED;
}

}  // namespace hsm::client
