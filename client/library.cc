#include "client/library.h"

#include <pthread.h>

#include <mutex>

#include "absl/synchronization/mutex.h"
#include "client/log.h"

namespace hsm::client {
namespace {

// Never destroyed: used at exit and after fork.
std::shared_mutex* g_lifecycle = new std::shared_mutex();

std::shared_mutex& LifecycleMutex() { return *g_lifecycle; }

Library* g_library = nullptr;

void PrepareFork() { LifecycleMutex().lock(); }
void ParentAfterFork() { LifecycleMutex().unlock(); }
void ChildAfterFork() {
  // The parent's channel and threads do not exist here: leave them be.
  g_library = nullptr;
  // Not unlock(): glibc's rwlock remembers the writer's thread id, which the
  // child's thread does not have. A fresh lock; the old one is left as is.
  g_lifecycle = new std::shared_mutex();
}

void InstallForkHandlers() {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(PrepareFork, ParentAfterFork, ChildAfterFork); });
}

CK_RV CheckInitArgs(CK_VOID_PTR init_args) {
  if (init_args == nullptr) return CKR_OK;
  const auto* args = static_cast<const CK_C_INITIALIZE_ARGS*>(init_args);
  if (args->pReserved != nullptr) return CKR_ARGUMENTS_BAD;
  const int supplied = (args->CreateMutex != nullptr) + (args->DestroyMutex != nullptr) +
                       (args->LockMutex != nullptr) + (args->UnlockMutex != nullptr);
  if (supplied != 0 && supplied != 4) return CKR_ARGUMENTS_BAD;
  // We lock with the OS's primitives (so does gRPC). An application that
  // supplies its own mutexes but does not allow OS locking cannot be served.
  if (supplied == 4 && (args->flags & CKF_OS_LOCKING_OK) == 0) return CKR_CANT_LOCK;
  // CKF_LIBRARY_CANT_CREATE_OS_THREADS is accepted: NSS always passes it, and
  // refusing makes NSS serialise every call. gRPC's own threads are the only
  // ones created, and only once the library is initialized.
  return CKR_OK;
}

}  // namespace

LibraryRef::LibraryRef() : lock_(LifecycleMutex()), library_(g_library) {}

CK_RV InitializeLibrary(CK_VOID_PTR init_args) {
  CK_RV rv = CheckInitArgs(init_args);
  if (rv != CKR_OK) return rv;
  InstallForkHandlers();
  std::unique_lock<std::shared_mutex> lock(LifecycleMutex());
  if (g_library != nullptr) return CKR_CRYPTOKI_ALREADY_INITIALIZED;
  Config config;
  std::string error;
  if (!LoadConfig(config, error)) {
    LogError("C_Initialize: " + error);
    return CKR_GENERAL_ERROR;
  }
  // Debian builds abseil with its mutex deadlock detection on, and gRPC's
  // locks then pay for it on every call (a graph of lock orders updated at
  // each acquisition: 1 to 2 % of the library's time in a signing loop). It
  // is a debugging aid, off in abseil's release builds; hsmd turns it off too.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  g_library = new Library(config);
  return CKR_OK;
}

CK_RV FinalizeLibrary(CK_VOID_PTR reserved) {
  if (reserved != nullptr) return CKR_ARGUMENTS_BAD;
  std::unique_lock<std::shared_mutex> lock(LifecycleMutex());
  if (g_library == nullptr) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::unique_ptr<Library> library(g_library);
  g_library = nullptr;
  library->connection.Finalize();
  return CKR_OK;
}

}  // namespace hsm::client
