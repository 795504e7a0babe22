#include "tests/testing/module.h"

#include <dlfcn.h>

#include <cstdio>

#include "tests/testing/hsmd_process.h"

namespace hsm::testing {

std::string ModulePath() { return RunfilePath("client/libhsm_pkcs11.so"); }

std::unique_ptr<Module> Module::Load() {
  auto module = std::unique_ptr<Module>(new Module());
  module->handle_ = dlopen(ModulePath().c_str(), RTLD_NOW | RTLD_LOCAL);
  if (module->handle_ == nullptr) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return nullptr;
  }
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(module->handle_, "C_GetFunctionList"));
  if (get == nullptr || get(&module->functions_) != CKR_OK) {
    std::fprintf(stderr, "C_GetFunctionList failed\n");
    return nullptr;
  }
  return module;
}

Module::~Module() {
  if (handle_ != nullptr) dlclose(handle_);
}

}  // namespace hsm::testing
