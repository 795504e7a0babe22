// The real client library, loaded as an application loads it: dlopen, then
// C_GetFunctionList.
#ifndef HSM_TESTS_TESTING_MODULE_H_
#define HSM_TESTS_TESTING_MODULE_H_

#include <memory>
#include <string>

#include "third_party/pkcs11/pkcs11.h"

namespace hsm::testing {

std::string ModulePath();

class Module {
 public:
  // nullptr (with a message on stderr) if the library does not load.
  static std::unique_ptr<Module> Load();
  ~Module();  // dlclose

  CK_FUNCTION_LIST* operator->() const { return functions_; }
  CK_FUNCTION_LIST* functions() const { return functions_; }
  void* handle() const { return handle_; }

 private:
  void* handle_ = nullptr;
  CK_FUNCTION_LIST* functions_ = nullptr;
};

}  // namespace hsm::testing

#endif  // HSM_TESTS_TESTING_MODULE_H_
