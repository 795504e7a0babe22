// The token objects the object scenarios create, search and destroy: X.509
// certificate objects (CKO_CERTIFICATE), since those are what a CA keeps by
// the thousand and what NSS searches by CKA_ID. (Data objects would be
// simpler, but PKCS #11 gives them no CKA_ID.) Each has a label naming its
// scenario and a distinct CKA_ID, subject, serial number and value, so that
// every index the token keeps sees realistic spread. The value is not a real
// DER certificate: neither module parses it.
#ifndef HSM_BENCH_CERTIFICATES_H_
#define HSM_BENCH_CERTIFICATES_H_

#include <cstddef>
#include <string>
#include <vector>

#include "bench/scenario.h"
#include "bench/status.h"

namespace hsm::bench {

// Creates a public token certificate with `label` and CKA_ID `id` (the other
// distinct values are derived from `id`), about 1 KiB in all.
Status CreateCertificate(const Env& env, CK_SESSION_HANDLE session, const std::string& label, const std::string& id,
                         CK_OBJECT_HANDLE* object);

// Searches with `search` (C_FindObjectsInit, C_FindObjects until empty or
// `max` found, C_FindObjectsFinal) and appends what it finds to `found`.
Status FindAll(const Env& env, CK_SESSION_HANDLE session, CK_ATTRIBUTE* search, CK_ULONG count, size_t max,
               std::vector<CK_OBJECT_HANDLE>* found);

// The certificates that have `label`.
Status FindCertificatesByLabel(const Env& env, CK_SESSION_HANDLE session, const std::string& label,
                               std::vector<CK_OBJECT_HANDLE>* found);

}  // namespace hsm::bench

#endif  // HSM_BENCH_CERTIFICATES_H_
