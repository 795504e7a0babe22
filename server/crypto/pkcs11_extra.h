// PKCS #11 3.0 types the library relies on, for headers that predate them
// (the 3.0 constants are in third_party/pkcs11/pkcs11.h).
#ifndef HSM_SERVER_CRYPTO_PKCS11_EXTRA_H_
#define HSM_SERVER_CRYPTO_PKCS11_EXTRA_H_

#include "third_party/pkcs11/pkcs11.h"

// p11-kit names the KDF type only in its lowercase spelling. A typedef may be
// repeated with the same type, so this stays valid if a newer header adds it.
typedef unsigned long CK_EC_KDF_TYPE;

#endif  // HSM_SERVER_CRYPTO_PKCS11_EXTRA_H_
