#include "bench/module.h"

#include <dlfcn.h>

#include <cstring>
#include <vector>

namespace hsm::bench {

std::unique_ptr<Module> Module::Load(const std::string& path, std::string* error) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    *error = std::string("dlopen: ") + dlerror();
    return nullptr;
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST* p11 = nullptr;
  if (get_list == nullptr || get_list(&p11) != CKR_OK || p11 == nullptr) {
    *error = path + " has no usable C_GetFunctionList";
    dlclose(handle);
    return nullptr;
  }
  // Threads call the module concurrently, with the OS's locking (what NSS
  // asks for, minus CKF_LIBRARY_CANT_CREATE_OS_THREADS, which neither module
  // under test needs).
  CK_C_INITIALIZE_ARGS args;
  std::memset(&args, 0, sizeof(args));
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = p11->C_Initialize(&args);
  if (rv != CKR_OK) {
    *error = Status::Failed("C_Initialize", rv).ToString();
    dlclose(handle);
    return nullptr;
  }
  return std::unique_ptr<Module>(new Module(handle, p11));
}

Module::~Module() {
  p11_->C_Finalize(nullptr);
  // No dlclose: a module's own threads (gRPC's) may still be winding down,
  // and the process is about to exit anyway.
}

Status Module::FindSlot(const std::string& label, CK_SLOT_ID* slot) const {
  CK_ULONG count = 0;
  BENCH_P11("C_GetSlotList", p11_->C_GetSlotList(CK_TRUE, nullptr, &count));
  std::vector<CK_SLOT_ID> slots(count);
  BENCH_P11("C_GetSlotList", p11_->C_GetSlotList(CK_TRUE, slots.data(), &count));
  slots.resize(count);
  for (CK_SLOT_ID id : slots) {
    CK_TOKEN_INFO info;
    if (p11_->C_GetTokenInfo(id, &info) != CKR_OK) continue;
    // Labels are blank-padded to 32 bytes.
    std::string padded = label;
    padded.resize(sizeof(info.label), ' ');
    if (std::memcmp(info.label, padded.data(), sizeof(info.label)) == 0) {
      *slot = id;
      return Status::Ok();
    }
  }
  return Status::Failed("no token labelled '" + label + "': C_GetTokenInfo", CKR_TOKEN_NOT_PRESENT);
}

}  // namespace hsm::bench
