// Key management (PKCS #11 2.40 section 5.14). Key generation may take long
// (RSA-8192), so it runs under the long deadline.
#include "client/attribute_codec.h"
#include "client/call.h"
#include "client/functions.h"
#include "client/mechanism_codec.h"

namespace hsm::client {

using Stub = v1::Pkcs11::Stub;

CK_RV GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_ATTRIBUTE_PTR pTemplate,
                  CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (phKey == nullptr) return CKR_ARGUMENTS_BAD;
  v1::GenerateKeyRequest request;
  CK_RV rv = EncodeMechanism(pMechanism, request.mutable_mechanism());
  if (rv == CKR_OK) rv = EncodeTemplate(pTemplate, ulCount, request.mutable_template_());
  if (rv != CKR_OK) return rv;
  v1::ObjectReply reply;
  rv = call.Run(&Stub::PrepareAsyncGenerateKey, request, &reply, Deadline::kLong);
  if (rv == CKR_OK) *phKey = reply.object();
  return rv;
}

CK_RV GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                      CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
                      CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
                      CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (phPublicKey == nullptr || phPrivateKey == nullptr) return CKR_ARGUMENTS_BAD;
  v1::GenerateKeyPairRequest request;
  CK_RV rv = EncodeMechanism(pMechanism, request.mutable_mechanism());
  if (rv == CKR_OK) {
    rv = EncodeTemplate(pPublicKeyTemplate, ulPublicKeyAttributeCount, request.mutable_public_template());
  }
  if (rv == CKR_OK) {
    rv = EncodeTemplate(pPrivateKeyTemplate, ulPrivateKeyAttributeCount, request.mutable_private_template());
  }
  if (rv != CKR_OK) return rv;
  v1::GenerateKeyPairReply reply;
  rv = call.Run(&Stub::PrepareAsyncGenerateKeyPair, request, &reply, Deadline::kLong);
  if (rv == CKR_OK) {
    *phPublicKey = reply.public_key();
    *phPrivateKey = reply.private_key();
  }
  return rv;
}

CK_RV WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hWrappingKey,
              CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  v1::WrapKeyRequest request;
  CK_RV rv = EncodeMechanism(pMechanism, request.mutable_mechanism());
  if (rv == CKR_OK) rv = RequestOutput(pWrappedKey, pulWrappedKeyLen, request.mutable_output());
  if (rv != CKR_OK) return rv;
  request.set_wrapping_key(hWrappingKey);
  request.set_key(hKey);
  v1::DataReply reply;
  rv = call.Run(&Stub::PrepareAsyncWrapKey, request, &reply);
  return DeliverOutput(rv, reply, pWrappedKey, pulWrappedKeyLen);
}

CK_RV UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hUnwrappingKey,
                CK_BYTE_PTR pWrappedKey, CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
                CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (pWrappedKey == nullptr || phKey == nullptr) return CKR_ARGUMENTS_BAD;
  v1::UnwrapKeyRequest request;
  CK_RV rv = EncodeMechanism(pMechanism, request.mutable_mechanism());
  if (rv == CKR_OK) rv = EncodeTemplate(pTemplate, ulAttributeCount, request.mutable_template_());
  if (rv != CKR_OK) return rv;
  request.set_unwrapping_key(hUnwrappingKey);
  request.set_wrapped_key(reinterpret_cast<const char*>(pWrappedKey), ulWrappedKeyLen);
  v1::ObjectReply reply;
  rv = call.Run(&Stub::PrepareAsyncUnwrapKey, request, &reply);
  if (rv == CKR_OK) *phKey = reply.object();
  return rv;
}

CK_RV DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hBaseKey,
                CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (phKey == nullptr) return CKR_ARGUMENTS_BAD;
  v1::DeriveKeyRequest request;
  CK_RV rv = EncodeMechanism(pMechanism, request.mutable_mechanism());
  if (rv == CKR_OK) rv = EncodeTemplate(pTemplate, ulAttributeCount, request.mutable_template_());
  if (rv != CKR_OK) return rv;
  request.set_base_key(hBaseKey);
  v1::ObjectReply reply;
  rv = call.Run(&Stub::PrepareAsyncDeriveKey, request, &reply);
  if (rv == CKR_OK) *phKey = reply.object();
  return rv;
}

}  // namespace hsm::client
