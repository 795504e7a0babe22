// Random number generation (PKCS #11 2.40 section 5.15).
#include <algorithm>
#include <cstring>

#include "client/call.h"
#include "client/functions.h"

namespace hsm::client {

// hsmd answers at most this much per call; larger requests take several.
constexpr CK_ULONG kRandomChunk = 1 << 20;

CK_RV SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (pSeed == nullptr && ulSeedLen != 0) return CKR_ARGUMENTS_BAD;
  v1::SeedRandomRequest request;
  if (ulSeedLen != 0) request.set_seed(reinterpret_cast<const char*>(pSeed), ulSeedLen);
  v1::StatusReply reply;
  return call.Run(&v1::Pkcs11::Stub::PrepareAsyncSeedRandom, request, &reply);
}

CK_RV GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData, CK_ULONG ulRandomLen) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (RandomData == nullptr && ulRandomLen != 0) return CKR_ARGUMENTS_BAD;
  CK_ULONG done = 0;
  do {
    v1::GenerateRandomRequest request;
    request.set_length(std::min(kRandomChunk, ulRandomLen - done));
    v1::DataReply reply;
    CK_RV rv = call.Run(&v1::Pkcs11::Stub::PrepareAsyncGenerateRandom, request, &reply);
    if (rv != CKR_OK) return rv;
    if (reply.data().size() != request.length()) return CKR_DEVICE_ERROR;
    if (!reply.data().empty()) std::memcpy(RandomData + done, reply.data().data(), reply.data().size());
    done += reply.data().size();
  } while (done < ulRandomLen);
  return CKR_OK;
}

}  // namespace hsm::client
