// The exported C ABI, made from pkcs11_functions.inc: each C_Name forwards to
// hsm::client::Name, and the function table lists them in order.
#include "client/functions.h"

#define HSM_P11_FUNCTION(name, params, args) \
  extern "C" __attribute__((visibility("default"))) CK_RV C_##name params { return hsm::client::name args; }
#include "client/pkcs11_functions.inc"
#undef HSM_P11_FUNCTION

namespace hsm::client {

static CK_FUNCTION_LIST function_list = {
    {CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR},
#define HSM_P11_FUNCTION(name, params, args) C_##name,
#include "client/pkcs11_functions.inc"
#undef HSM_P11_FUNCTION
};

CK_RV GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList) {
  if (ppFunctionList == nullptr) return CKR_ARGUMENTS_BAD;
  *ppFunctionList = &function_list;
  return CKR_OK;
}

}  // namespace hsm::client
