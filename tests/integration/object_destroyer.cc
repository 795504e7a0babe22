// Another application for round_trip_test: initializes the library, logs in
// on the slot given as argv[2] with argv[3], destroys the token object whose
// handle is argv[4], and finalizes. Exit status 0 if it did; 10 + the step
// that failed otherwise.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "third_party/pkcs11/pkcs11.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: object_destroyer MODULE SLOT USER_PIN HANDLE\n");
    return 2;
  }
  void* module = dlopen(argv[1], RTLD_NOW);
  if (module == nullptr) return 3;
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(module, "C_GetFunctionList"));
  CK_FUNCTION_LIST* f = nullptr;
  if (get == nullptr || get(&f) != CKR_OK || f->C_Initialize(nullptr) != CKR_OK) return 11;
  CK_SESSION_HANDLE session;
  if (f->C_OpenSession(std::strtoul(argv[2], nullptr, 10), CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                       nullptr, &session) != CKR_OK) {
    return 12;
  }
  if (f->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(argv[3]), std::strlen(argv[3])) != CKR_OK) {
    return 13;
  }
  if (f->C_DestroyObject(session, std::strtoul(argv[4], nullptr, 10)) != CKR_OK) return 14;
  if (f->C_Finalize(nullptr) != CKR_OK) return 15;
  return 0;
}
