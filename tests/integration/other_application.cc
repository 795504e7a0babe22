// Another application for the integration tests, in a process of its own:
// loads MODULE, opens a read/write session on SLOT and logs in with
// USER_PIN; then
//   hold            exits without C_Finalize, as a crashed application would
//                   (restart_test, quota_test);
//   destroy HANDLE  destroys that token object and finalizes (round_trip_test).
// Exit status 0 if it did; otherwise the step that failed: 4 C_Initialize,
// 5 C_OpenSession, 6 C_Login, 7 the action, 8 C_Finalize.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "third_party/pkcs11/pkcs11.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: other_application MODULE SLOT USER_PIN hold\n"
               "       other_application MODULE SLOT USER_PIN destroy HANDLE\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return Usage();
  const bool hold = std::strcmp(argv[4], "hold") == 0 && argc == 5;
  const bool destroy = std::strcmp(argv[4], "destroy") == 0 && argc == 6;
  if (!hold && !destroy) return Usage();

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
  if (hold) {
    std::printf("holding session\n");
    std::fflush(stdout);
    _exit(0);  // no C_Finalize, no clean-up: the server must notice by itself
  }
  if (f->C_DestroyObject(session, std::strtoul(argv[5], nullptr, 10)) != CKR_OK) return 7;
  if (f->C_Finalize(nullptr) != CKR_OK) return 8;
  return 0;
}
