// Encryption, decryption, digests, signatures and MACs, verification, and the
// dual-function calls (PKCS #11 2.40 sections 5.8 to 5.13). They come in four
// shapes, each one helper below.
//
// An Init is deferred (C_*Init returns CKR_OK at once; the Init travels inside
// the operation's first data call) when its outcome is already known: see
// TryDefer and client/init_cache.h. Otherwise it is sent at once, as before.
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "client/call.h"
#include "client/functions.h"
#include "client/mechanism_codec.h"

namespace hsm::client {
namespace {

using Stub = v1::Pkcs11::Stub;
using State = OperationTrack::State;

// Defers `request`, an Init of `kind`, if an identical one succeeded before
// (the cache says so) and the library knows no operation of that kind is
// active on the session. It is then active as far as the application can
// tell; the Init waits in the session's entry.
bool TryDefer(SessionCall& call, OpKind kind, const v1::OperationInitRequest& request,
              const std::string& mechanism) {
  const SessionEntry& entry = call.session();
  if (!call.library().inits.MayDefer(entry.epoch, entry.slot_id, request.key(), kind, mechanism)) return false;
  bool deferred = false;
  call.library().sessions.Update(call.handle(), [&](SessionEntry& current) {
    OperationTrack& track = current.operation(kind);
    if (track.state != State::kIdle || track.deferred_init.has_value()) return;
    track.state = State::kActive;
    track.deferred_init = request;
    track.failed_init = CKR_OK;
    deferred = true;
  });
  return deferred;
}

// Records what an Init sent at once gave: the operation's state, and what the
// cache may learn (only from an Init that succeeded, and only if nothing
// changed since `generation`).
void NoteInit(SessionCall& call, OpKind kind, const v1::OperationInitRequest& request, const std::string& mechanism,
              CK_RV rv, const v1::StatusReply& reply, uint64_t generation) {
  const SessionEntry& entry = call.session();
  if (rv == CKR_OK && reply.has_key_facts()) {  // an hsmd without key facts runs no carried Init
    call.library().inits.Learn(generation, entry.epoch, entry.slot_id, request.key(), kind, mechanism,
                               reply.key_facts());
  }
  if (NamesBadKey(rv)) call.library().inits.ForgetKey(entry.slot_id, request.key());
  call.library().sessions.Update(call.handle(), [&](SessionEntry& current) {
    OperationTrack& track = current.operation(kind);
    track.failed_init = CKR_OK;  // this Init's result is what the application saw
    if (rv == CKR_OK || rv == CKR_OPERATION_ACTIVE) {
      track.state = State::kActive;
    } else if (OutcomeUnknown(rv)) {
      track.state = State::kUnknown;
    }  // any other failure started nothing and changed nothing
  });
}

CK_RV OperationInit(OpKind kind, CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  SessionCall call(session);
  if (call.status() != CKR_OK) return call.status();
  v1::OperationInitRequest request;
  CK_RV rv = EncodeMechanism(mechanism, request.mutable_mechanism());
  if (rv != CKR_OK) return rv;
  request.set_key(key);
  // Deferred Inits of this session go first, this kind's too: a second Init
  // must meet CKR_OPERATION_ACTIVE as before.
  call.SendDeferredInits();
  const std::string encoded_mechanism = request.mechanism().SerializeAsString();
  if (TryDefer(call, kind, request, encoded_mechanism)) return CKR_OK;
  const uint64_t generation = call.library().inits.generation();
  v1::StatusReply reply;
  rv = call.Send(InitRpcOf(kind), request, &reply);
  NoteInit(call, kind, request, encoded_mechanism, rv, reply, generation);
  return rv;
}

// How a data call treats its operation.
struct CallShape {
  OpKind kind;
  // A success ends the operation (single-part calls, Final, Verify).
  bool ends = false;
  // The caller passed a NULL output buffer.
  bool length_query = false;
};

// Sends `request`, a data call of `shape.kind`, carrying the operation's
// deferred Init if it has one (requests without an `init` field, C_DigestKey's,
// send it on its own first), and tracks the operation's state.
template <typename Request, typename Reply>
CK_RV RunOperationCall(SessionCall& call, CallShape shape, Rpc<Request, Reply> rpc, Request& request,
                       Reply* reply) {
  constexpr bool kCarriesInit = !std::is_same_v<Request, v1::ObjectRequest>;
  Library& library = call.library();
  std::unique_lock<std::mutex> order(*call.session().init_order);
  std::optional<v1::OperationInitRequest> init;
  CK_RV failed_init = CKR_OK;
  library.sessions.Update(call.handle(), [&](SessionEntry& current) {
    OperationTrack& track = current.operation(shape.kind);
    failed_init = track.failed_init;
    track.failed_init = CKR_OK;
    if (kCarriesInit) init = std::exchange(track.deferred_init, std::nullopt);
  });
  if (failed_init != CKR_OK) return failed_init;  // the operation never started
  // The session's other deferred Inits go first, on their own.
  call.SendDeferredInits(kCarriesInit ? std::optional<OpKind>(shape.kind) : std::nullopt, /*order_held=*/true);
  if constexpr (kCarriesInit) {
    if (init.has_value()) *request.mutable_init() = *init;
  }
  // Only a call carrying an Init keeps the order lock until hsmd has it.
  if (!init.has_value()) order.unlock();
  const CK_RV rv = call.Send(rpc, request, reply);
  if (init.has_value() && NamesBadKey(rv)) library.inits.ForgetKey(call.session().slot_id, init->key());
  library.sessions.Update(call.handle(), [&](SessionEntry& current) {
    // CKR_OPERATION_ACTIVE for a carried Init: hsmd had an operation the
    // library did not know of.
    current.operation(shape.kind).state = init.has_value() && rv == CKR_OPERATION_ACTIVE
                                              ? State::kUnknown
                                              : StateAfterCall(rv, shape.ends, shape.length_query);
  });
  return rv;
}

bool BadInput(CK_BYTE_PTR data, CK_ULONG length) { return data == nullptr && length != 0; }

// Input in, bytes out (C_Encrypt, C_SignUpdate's siblings with output ...).
CK_RV DataToOutput(Rpc<v1::DataRequest, v1::DataReply> rpc, CallShape shape, CK_SESSION_HANDLE session,
                   CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  SessionCall call(session);
  if (call.status() != CKR_OK) return call.status();
  if (BadInput(in, in_len)) return CKR_ARGUMENTS_BAD;
  v1::DataRequest request;
  CK_RV rv = RequestOutput(out, out_len, request.mutable_output());
  if (rv != CKR_OK) return rv;
  if (in_len != 0) request.set_data(reinterpret_cast<const char*>(in), in_len);
  shape.length_query = out == nullptr;
  v1::DataReply reply;
  rv = RunOperationCall(call, shape, rpc, request, &reply);
  return DeliverOutput(rv, reply, out, out_len);
}

// Input in, nothing out (C_DigestUpdate, C_SignUpdate, C_VerifyUpdate).
CK_RV DataOnly(Rpc<v1::DataRequest, v1::StatusReply> rpc, OpKind kind, CK_SESSION_HANDLE session, CK_BYTE_PTR in,
               CK_ULONG in_len) {
  SessionCall call(session);
  if (call.status() != CKR_OK) return call.status();
  if (BadInput(in, in_len)) return CKR_ARGUMENTS_BAD;
  v1::DataRequest request;
  if (in_len != 0) request.set_data(reinterpret_cast<const char*>(in), in_len);
  v1::StatusReply reply;
  return RunOperationCall(call, CallShape{kind}, rpc, request, &reply);
}

// Nothing in, bytes out (the *Final calls).
CK_RV OutputOnly(Rpc<v1::OutputRequest, v1::DataReply> rpc, OpKind kind, CK_SESSION_HANDLE session,
                 CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  SessionCall call(session);
  if (call.status() != CKR_OK) return call.status();
  v1::OutputRequest request;
  CK_RV rv = RequestOutput(out, out_len, request.mutable_output());
  if (rv != CKR_OK) return rv;
  v1::DataReply reply;
  rv = RunOperationCall(call, CallShape{kind, /*ends=*/true, /*length_query=*/out == nullptr}, rpc, request,
                        &reply);
  return DeliverOutput(rv, reply, out, out_len);
}

// Data and a signature in, a verdict out (both end the operation).
CK_RV VerifyCall(Rpc<v1::VerifyRequest, v1::StatusReply> rpc, CK_SESSION_HANDLE session,
                 CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR signature, CK_ULONG signature_len) {
  SessionCall call(session);
  if (call.status() != CKR_OK) return call.status();
  if (BadInput(data, data_len) || BadInput(signature, signature_len)) return CKR_ARGUMENTS_BAD;
  v1::VerifyRequest request;
  if (data_len != 0) request.set_data(reinterpret_cast<const char*>(data), data_len);
  if (signature_len != 0) request.set_signature(reinterpret_cast<const char*>(signature), signature_len);
  v1::StatusReply reply;
  return RunOperationCall(call, CallShape{OpKind::kVerify, /*ends=*/true}, rpc, request, &reply);
}

// The dual-function calls continue two operations at once. (hsmd does not
// serve them; should one fail there, the library no longer knows what is
// active.)
CK_RV DualUpdate(Rpc<v1::DataRequest, v1::DataReply> rpc, OpKind first, OpKind second, CK_SESSION_HANDLE session,
                 CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  SessionCall call(session);
  if (call.status() != CKR_OK) return call.status();
  if (BadInput(in, in_len)) return CKR_ARGUMENTS_BAD;
  v1::DataRequest request;
  CK_RV rv = RequestOutput(out, out_len, request.mutable_output());
  if (rv != CKR_OK) return rv;
  if (in_len != 0) request.set_data(reinterpret_cast<const char*>(in), in_len);
  v1::DataReply reply;
  rv = call.Run(rpc, request, &reply);
  if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL && rv != CKR_FUNCTION_NOT_SUPPORTED) {
    call.library().sessions.Update(call.handle(), [&](SessionEntry& current) {
      current.operation(first).state = State::kUnknown;
      current.operation(second).state = State::kUnknown;
    });
  }
  return DeliverOutput(rv, reply, out, out_len);
}

}  // namespace

CK_RV EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  return OperationInit(OpKind::kEncrypt, hSession, pMechanism, hKey);
}
CK_RV Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pEncryptedData,
              CK_ULONG_PTR pulEncryptedDataLen) {
  return DataToOutput(&Stub::PrepareAsyncEncrypt, CallShape{OpKind::kEncrypt, true}, hSession, pData, ulDataLen,
                      pEncryptedData, pulEncryptedDataLen);
}
CK_RV EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                    CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen) {
  return DataToOutput(&Stub::PrepareAsyncEncryptUpdate, CallShape{OpKind::kEncrypt, false}, hSession, pPart, ulPartLen,
                      pEncryptedPart, pulEncryptedPartLen);
}
CK_RV EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
                   CK_ULONG_PTR pulLastEncryptedPartLen) {
  return OutputOnly(&Stub::PrepareAsyncEncryptFinal, OpKind::kEncrypt, hSession, pLastEncryptedPart, pulLastEncryptedPartLen);
}

CK_RV DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  return OperationInit(OpKind::kDecrypt, hSession, pMechanism, hKey);
}
CK_RV Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData, CK_ULONG ulEncryptedDataLen,
              CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen) {
  return DataToOutput(&Stub::PrepareAsyncDecrypt, CallShape{OpKind::kDecrypt, true}, hSession, pEncryptedData,
                      ulEncryptedDataLen, pData, pulDataLen);
}
CK_RV DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen,
                    CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen) {
  return DataToOutput(&Stub::PrepareAsyncDecryptUpdate, CallShape{OpKind::kDecrypt, false}, hSession, pEncryptedPart,
                      ulEncryptedPartLen, pPart, pulPartLen);
}
CK_RV DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart, CK_ULONG_PTR pulLastPartLen) {
  return OutputOnly(&Stub::PrepareAsyncDecryptFinal, OpKind::kDecrypt, hSession, pLastPart, pulLastPartLen);
}

CK_RV DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism) {
  return OperationInit(OpKind::kDigest, hSession, pMechanism, CK_INVALID_HANDLE);
}
CK_RV Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pDigest,
             CK_ULONG_PTR pulDigestLen) {
  return DataToOutput(&Stub::PrepareAsyncDigest, CallShape{OpKind::kDigest, true}, hSession, pData, ulDataLen, pDigest,
                      pulDigestLen);
}
CK_RV DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
  return DataOnly(&Stub::PrepareAsyncDigestUpdate, OpKind::kDigest, hSession, pPart, ulPartLen);
}
CK_RV DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  v1::ObjectRequest request;
  request.set_object(hKey);
  v1::StatusReply reply;
  return RunOperationCall(call, CallShape{OpKind::kDigest}, &Stub::PrepareAsyncDigestKey, request, &reply);
}
CK_RV DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen) {
  return OutputOnly(&Stub::PrepareAsyncDigestFinal, OpKind::kDigest, hSession, pDigest, pulDigestLen);
}

CK_RV SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  return OperationInit(OpKind::kSign, hSession, pMechanism, hKey);
}
CK_RV Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
           CK_ULONG_PTR pulSignatureLen) {
  return DataToOutput(&Stub::PrepareAsyncSign, CallShape{OpKind::kSign, true}, hSession, pData, ulDataLen, pSignature,
                      pulSignatureLen);
}
CK_RV SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
  return DataOnly(&Stub::PrepareAsyncSignUpdate, OpKind::kSign, hSession, pPart, ulPartLen);
}
CK_RV SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen) {
  return OutputOnly(&Stub::PrepareAsyncSignFinal, OpKind::kSign, hSession, pSignature, pulSignatureLen);
}
CK_RV SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  return OperationInit(OpKind::kSignRecover, hSession, pMechanism, hKey);
}
CK_RV SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                  CK_ULONG_PTR pulSignatureLen) {
  return DataToOutput(&Stub::PrepareAsyncSignRecover, CallShape{OpKind::kSignRecover, true}, hSession, pData, ulDataLen,
                      pSignature, pulSignatureLen);
}

CK_RV VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  return OperationInit(OpKind::kVerify, hSession, pMechanism, hKey);
}
CK_RV Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
             CK_ULONG ulSignatureLen) {
  return VerifyCall(&Stub::PrepareAsyncVerify, hSession, pData, ulDataLen, pSignature, ulSignatureLen);
}
CK_RV VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
  return DataOnly(&Stub::PrepareAsyncVerifyUpdate, OpKind::kVerify, hSession, pPart, ulPartLen);
}
CK_RV VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen) {
  return VerifyCall(&Stub::PrepareAsyncVerifyFinal, hSession, nullptr, 0, pSignature, ulSignatureLen);
}
CK_RV VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  return OperationInit(OpKind::kVerifyRecover, hSession, pMechanism, hKey);
}
CK_RV VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen,
                    CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen) {
  return DataToOutput(&Stub::PrepareAsyncVerifyRecover, CallShape{OpKind::kVerifyRecover, true}, hSession, pSignature,
                      ulSignatureLen, pData, pulDataLen);
}

CK_RV DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                          CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen) {
  return DualUpdate(&Stub::PrepareAsyncDigestEncryptUpdate, OpKind::kDigest, OpKind::kEncrypt, hSession, pPart, ulPartLen,
                    pEncryptedPart, pulEncryptedPartLen);
}
CK_RV DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen,
                          CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen) {
  return DualUpdate(&Stub::PrepareAsyncDecryptDigestUpdate, OpKind::kDecrypt, OpKind::kDigest, hSession, pEncryptedPart,
                    ulEncryptedPartLen, pPart, pulPartLen);
}
CK_RV SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                        CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen) {
  return DualUpdate(&Stub::PrepareAsyncSignEncryptUpdate, OpKind::kSign, OpKind::kEncrypt, hSession, pPart, ulPartLen,
                    pEncryptedPart, pulEncryptedPartLen);
}
CK_RV DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen,
                          CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen) {
  return DualUpdate(&Stub::PrepareAsyncDecryptVerifyUpdate, OpKind::kDecrypt, OpKind::kVerify, hSession, pEncryptedPart,
                    ulEncryptedPartLen, pPart, pulPartLen);
}

}  // namespace hsm::client
