// PKCS #11 3.0 constants the library relies on, for headers that predate
// them. p11-kit's 2.40 header already has most; each is defined here only if
// it is missing, with the value from the PKCS #11 3.0 specification.
#ifndef HSM_SERVER_CRYPTO_PKCS11_EXTRA_H_
#define HSM_SERVER_CRYPTO_PKCS11_EXTRA_H_

#include "third_party/pkcs11/pkcs11.h"

#ifndef CKK_EC_EDWARDS
#define CKK_EC_EDWARDS (0x40UL)
#endif
#ifndef CKM_EC_EDWARDS_KEY_PAIR_GEN
#define CKM_EC_EDWARDS_KEY_PAIR_GEN (0x1055UL)
#endif
#ifndef CKM_EDDSA
#define CKM_EDDSA (0x1057UL)
#endif
#ifndef CKM_AES_KEY_WRAP
#define CKM_AES_KEY_WRAP (0x2109UL)
#endif
#ifndef CKM_AES_KEY_WRAP_PAD
#define CKM_AES_KEY_WRAP_PAD (0x210aUL)
#endif
#ifndef CKR_CURVE_NOT_SUPPORTED
#define CKR_CURVE_NOT_SUPPORTED (0x140UL)
#endif

// p11-kit names the KDF type only in its lowercase spelling. A typedef may be
// repeated with the same type, so this stays valid if a newer header adds it.
typedef unsigned long CK_EC_KDF_TYPE;

#endif  // HSM_SERVER_CRYPTO_PKCS11_EXTRA_H_
