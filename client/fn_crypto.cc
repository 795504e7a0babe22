// Encryption, decryption, digests, signatures and MACs, verification, and the
// dual-function calls (PKCS #11 2.40 sections 5.8 to 5.13). They come in four
// shapes, each one helper below.
#include "client/call.h"
#include "client/functions.h"
#include "client/mechanism_codec.h"

namespace hsm::client {
namespace {

using Stub = v1::Pkcs11::Stub;

CK_RV OperationInit(Rpc<v1::OperationInitRequest, v1::StatusReply> rpc, CK_SESSION_HANDLE session,
                    CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  SessionCall call(session);
  if (call.status() != CKR_OK) return call.status();
  v1::OperationInitRequest request;
  CK_RV rv = EncodeMechanism(mechanism, request.mutable_mechanism());
  if (rv != CKR_OK) return rv;
  request.set_key(key);
  v1::StatusReply reply;
  return call.Run(rpc, request, &reply);
}

bool BadInput(CK_BYTE_PTR data, CK_ULONG length) { return data == nullptr && length != 0; }

// Input in, bytes out (C_Encrypt, C_SignUpdate's siblings with output ...).
CK_RV DataToOutput(Rpc<v1::DataRequest, v1::DataReply> rpc, CK_SESSION_HANDLE session, CK_BYTE_PTR in,
                   CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  SessionCall call(session);
  if (call.status() != CKR_OK) return call.status();
  if (BadInput(in, in_len)) return CKR_ARGUMENTS_BAD;
  v1::DataRequest request;
  CK_RV rv = RequestOutput(out, out_len, request.mutable_output());
  if (rv != CKR_OK) return rv;
  if (in_len != 0) request.set_data(reinterpret_cast<const char*>(in), in_len);
  v1::DataReply reply;
  rv = call.Run(rpc, request, &reply);
  return DeliverOutput(rv, reply, out, out_len);
}

// Input in, nothing out (C_DigestUpdate, C_SignUpdate, C_VerifyUpdate).
CK_RV DataOnly(Rpc<v1::DataRequest, v1::StatusReply> rpc, CK_SESSION_HANDLE session, CK_BYTE_PTR in,
               CK_ULONG in_len) {
  SessionCall call(session);
  if (call.status() != CKR_OK) return call.status();
  if (BadInput(in, in_len)) return CKR_ARGUMENTS_BAD;
  v1::DataRequest request;
  if (in_len != 0) request.set_data(reinterpret_cast<const char*>(in), in_len);
  v1::StatusReply reply;
  return call.Run(rpc, request, &reply);
}

// Nothing in, bytes out (the *Final calls).
CK_RV OutputOnly(Rpc<v1::OutputRequest, v1::DataReply> rpc, CK_SESSION_HANDLE session, CK_BYTE_PTR out,
                 CK_ULONG_PTR out_len) {
  SessionCall call(session);
  if (call.status() != CKR_OK) return call.status();
  v1::OutputRequest request;
  CK_RV rv = RequestOutput(out, out_len, request.mutable_output());
  if (rv != CKR_OK) return rv;
  v1::DataReply reply;
  rv = call.Run(rpc, request, &reply);
  return DeliverOutput(rv, reply, out, out_len);
}

// Data and a signature in, a verdict out.
CK_RV VerifyCall(Rpc<v1::VerifyRequest, v1::StatusReply> rpc, CK_SESSION_HANDLE session,
                 CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR signature, CK_ULONG signature_len) {
  SessionCall call(session);
  if (call.status() != CKR_OK) return call.status();
  if (BadInput(data, data_len) || BadInput(signature, signature_len)) return CKR_ARGUMENTS_BAD;
  v1::VerifyRequest request;
  if (data_len != 0) request.set_data(reinterpret_cast<const char*>(data), data_len);
  if (signature_len != 0) request.set_signature(reinterpret_cast<const char*>(signature), signature_len);
  v1::StatusReply reply;
  return call.Run(rpc, request, &reply);
}

}  // namespace

CK_RV EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  return OperationInit(&Stub::EncryptInit, hSession, pMechanism, hKey);
}
CK_RV Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pEncryptedData,
              CK_ULONG_PTR pulEncryptedDataLen) {
  return DataToOutput(&Stub::Encrypt, hSession, pData, ulDataLen, pEncryptedData, pulEncryptedDataLen);
}
CK_RV EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                    CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen) {
  return DataToOutput(&Stub::EncryptUpdate, hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen);
}
CK_RV EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
                   CK_ULONG_PTR pulLastEncryptedPartLen) {
  return OutputOnly(&Stub::EncryptFinal, hSession, pLastEncryptedPart, pulLastEncryptedPartLen);
}

CK_RV DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  return OperationInit(&Stub::DecryptInit, hSession, pMechanism, hKey);
}
CK_RV Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData, CK_ULONG ulEncryptedDataLen,
              CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen) {
  return DataToOutput(&Stub::Decrypt, hSession, pEncryptedData, ulEncryptedDataLen, pData, pulDataLen);
}
CK_RV DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen,
                    CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen) {
  return DataToOutput(&Stub::DecryptUpdate, hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen);
}
CK_RV DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart, CK_ULONG_PTR pulLastPartLen) {
  return OutputOnly(&Stub::DecryptFinal, hSession, pLastPart, pulLastPartLen);
}

CK_RV DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism) {
  return OperationInit(&Stub::DigestInit, hSession, pMechanism, CK_INVALID_HANDLE);
}
CK_RV Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pDigest,
             CK_ULONG_PTR pulDigestLen) {
  return DataToOutput(&Stub::Digest, hSession, pData, ulDataLen, pDigest, pulDigestLen);
}
CK_RV DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
  return DataOnly(&Stub::DigestUpdate, hSession, pPart, ulPartLen);
}
CK_RV DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  v1::ObjectRequest request;
  request.set_object(hKey);
  v1::StatusReply reply;
  return call.Run(&Stub::DigestKey, request, &reply);
}
CK_RV DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen) {
  return OutputOnly(&Stub::DigestFinal, hSession, pDigest, pulDigestLen);
}

CK_RV SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  return OperationInit(&Stub::SignInit, hSession, pMechanism, hKey);
}
CK_RV Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
           CK_ULONG_PTR pulSignatureLen) {
  return DataToOutput(&Stub::Sign, hSession, pData, ulDataLen, pSignature, pulSignatureLen);
}
CK_RV SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
  return DataOnly(&Stub::SignUpdate, hSession, pPart, ulPartLen);
}
CK_RV SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen) {
  return OutputOnly(&Stub::SignFinal, hSession, pSignature, pulSignatureLen);
}
CK_RV SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  return OperationInit(&Stub::SignRecoverInit, hSession, pMechanism, hKey);
}
CK_RV SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                  CK_ULONG_PTR pulSignatureLen) {
  return DataToOutput(&Stub::SignRecover, hSession, pData, ulDataLen, pSignature, pulSignatureLen);
}

CK_RV VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  return OperationInit(&Stub::VerifyInit, hSession, pMechanism, hKey);
}
CK_RV Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
             CK_ULONG ulSignatureLen) {
  return VerifyCall(&Stub::Verify, hSession, pData, ulDataLen, pSignature, ulSignatureLen);
}
CK_RV VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
  return DataOnly(&Stub::VerifyUpdate, hSession, pPart, ulPartLen);
}
CK_RV VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen) {
  return VerifyCall(&Stub::VerifyFinal, hSession, nullptr, 0, pSignature, ulSignatureLen);
}
CK_RV VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  return OperationInit(&Stub::VerifyRecoverInit, hSession, pMechanism, hKey);
}
CK_RV VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen,
                    CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen) {
  return DataToOutput(&Stub::VerifyRecover, hSession, pSignature, ulSignatureLen, pData, pulDataLen);
}

CK_RV DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                          CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen) {
  return DataToOutput(&Stub::DigestEncryptUpdate, hSession, pPart, ulPartLen, pEncryptedPart,
                      pulEncryptedPartLen);
}
CK_RV DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen,
                          CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen) {
  return DataToOutput(&Stub::DecryptDigestUpdate, hSession, pEncryptedPart, ulEncryptedPartLen, pPart,
                      pulPartLen);
}
CK_RV SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                        CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen) {
  return DataToOutput(&Stub::SignEncryptUpdate, hSession, pPart, ulPartLen, pEncryptedPart,
                      pulEncryptedPartLen);
}
CK_RV DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen,
                          CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen) {
  return DataToOutput(&Stub::DecryptVerifyUpdate, hSession, pEncryptedPart, ulEncryptedPartLen, pPart,
                      pulPartLen);
}

}  // namespace hsm::client
