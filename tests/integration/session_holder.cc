// A client process for restart_test: initializes the library, opens a session
// on the slot given as argv[1], logs in with argv[2], then exits without
// C_Finalize, as a crashed application would.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "third_party/pkcs11/pkcs11.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: session_holder MODULE SLOT USER_PIN\n");
    return 2;
  }
  void* module = dlopen(argv[1], RTLD_NOW);
  if (module == nullptr) return 3;
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(module, "C_GetFunctionList"));
  CK_FUNCTION_LIST* f = nullptr;
  if (get == nullptr || get(&f) != CKR_OK || f->C_Initialize(nullptr) != CKR_OK) return 4;
  CK_SESSION_HANDLE session;
  if (f->C_OpenSession(std::strtoul(argv[2], nullptr, 10), CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                       nullptr, &session) != CKR_OK) {
    return 5;
  }
  if (f->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(argv[3]), std::strlen(argv[3])) != CKR_OK) {
    return 6;
  }
  std::printf("holding session\n");
  std::fflush(stdout);
  _exit(0);  // no C_Finalize, no clean-up: the server must notice by itself
}
