// Any PKCS #11 module, loaded the way applications load one: dlopen, then
// C_GetFunctionList and C_Initialize. The same code drives libhsm_pkcs11.so
// and SoftHSMv2, so the two are measured by identical callers.
#ifndef HSM_BENCH_MODULE_H_
#define HSM_BENCH_MODULE_H_

#include <memory>
#include <string>

#include "bench/status.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::bench {

class Module {
 public:
  // Loads and initializes the module at `path`; nullptr with `error` set if
  // it does not load or initialize.
  static std::unique_ptr<Module> Load(const std::string& path, std::string* error);
  ~Module();  // C_Finalize; the library stays mapped (see module.cc)

  CK_FUNCTION_LIST* operator->() const { return p11_; }
  CK_FUNCTION_LIST* functions() const { return p11_; }

  // The slot whose token has `label`.
  Status FindSlot(const std::string& label, CK_SLOT_ID* slot) const;

 private:
  Module(void* handle, CK_FUNCTION_LIST* p11) : handle_(handle), p11_(p11) {}
  void* handle_;
  CK_FUNCTION_LIST* p11_;
};

}  // namespace hsm::bench

#endif  // HSM_BENCH_MODULE_H_
