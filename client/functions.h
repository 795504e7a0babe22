// The implementations behind the exported C_* functions, one per entry of
// pkcs11_functions.inc: hsm::client::Name implements C_Name. They live in
// fn_*.cc by PKCS #11 function group.
#ifndef HSM_CLIENT_FUNCTIONS_H_
#define HSM_CLIENT_FUNCTIONS_H_

#include "third_party/pkcs11/pkcs11.h"

namespace hsm::client {

#define HSM_P11_FUNCTION(name, params, args) CK_RV name params;
#include "client/pkcs11_functions.inc"
#undef HSM_P11_FUNCTION

}  // namespace hsm::client

#endif  // HSM_CLIENT_FUNCTIONS_H_
