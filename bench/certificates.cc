#include "bench/certificates.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace hsm::bench {
namespace {

CK_OBJECT_CLASS kCertificate = CKO_CERTIFICATE;
CK_CERTIFICATE_TYPE kX509 = CKC_X_509;
CK_BBOOL kTrue = CK_TRUE;
CK_BBOOL kFalse = CK_FALSE;
// Stand-in for a DER name: the same issuer for all, as under one CA.
const std::string kIssuer = "issuer CN=p11bench CA";
// What makes the value about the size of a small certificate.
const std::string kBody(900, '\x42');

void* Chars(const std::string& s) { return const_cast<char*>(s.data()); }

}  // namespace

Status CreateCertificate(const Env& env, CK_SESSION_HANDLE session, const std::string& label, const std::string& id,
                         CK_OBJECT_HANDLE* object) {
  const std::string subject = "subject CN=" + id;
  const std::string serial = "serial " + id;
  const std::string value = "certificate " + id + kBody;
  CK_ATTRIBUTE attributes[] = {
      {CKA_CLASS, &kCertificate, sizeof(kCertificate)},
      {CKA_CERTIFICATE_TYPE, &kX509, sizeof(kX509)},
      {CKA_TOKEN, &kTrue, sizeof(kTrue)},
      {CKA_PRIVATE, &kFalse, sizeof(kFalse)},
      {CKA_LABEL, Chars(label), label.size()},
      {CKA_ID, Chars(id), id.size()},
      {CKA_SUBJECT, Chars(subject), subject.size()},
      {CKA_ISSUER, Chars(kIssuer), kIssuer.size()},
      {CKA_SERIAL_NUMBER, Chars(serial), serial.size()},
      {CKA_VALUE, Chars(value), value.size()},
  };
  BENCH_P11("C_CreateObject", env.p11->C_CreateObject(session, attributes, std::size(attributes), object));
  return Status::Ok();
}

Status FindAll(const Env& env, CK_SESSION_HANDLE session, CK_ATTRIBUTE* search, CK_ULONG count, size_t max,
               std::vector<CK_OBJECT_HANDLE>* found) {
  BENCH_P11("C_FindObjectsInit", env.p11->C_FindObjectsInit(session, search, count));
  Status status;
  CK_OBJECT_HANDLE batch[1024];
  for (size_t total = 0; total < max;) {
    CK_ULONG got = 0;
    CK_ULONG want = static_cast<CK_ULONG>(std::min<size_t>(std::size(batch), max - total));
    CK_RV rv = env.p11->C_FindObjects(session, batch, want, &got);
    if (rv != CKR_OK) {
      status = Status::Failed("C_FindObjects", rv);
      break;
    }
    found->insert(found->end(), batch, batch + got);
    total += got;
    if (got < want) break;
  }
  CK_RV rv = env.p11->C_FindObjectsFinal(session);
  if (status.ok() && rv != CKR_OK) status = Status::Failed("C_FindObjectsFinal", rv);
  return status;
}

Status FindCertificatesByLabel(const Env& env, CK_SESSION_HANDLE session, const std::string& label,
                               std::vector<CK_OBJECT_HANDLE>* found) {
  CK_ATTRIBUTE search[] = {
      {CKA_CLASS, &kCertificate, sizeof(kCertificate)},
      {CKA_LABEL, Chars(label), label.size()},
  };
  return FindAll(env, session, search, std::size(search), SIZE_MAX, found);
}

}  // namespace hsm::bench
