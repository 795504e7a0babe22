// The library's global state between C_Initialize and C_Finalize, and the
// lock that keeps it alive while calls use it: every call holds a shared lock
// (LibraryRef); C_Initialize and C_Finalize take it exclusively.
//
// After fork() the child must not touch the parent's gRPC channel or threads:
// a pthread_atfork handler abandons the state in the child, which starts
// uninitialized and gets a fresh connection when it calls C_Initialize.
#ifndef HSM_CLIENT_LIBRARY_H_
#define HSM_CLIENT_LIBRARY_H_

#include <memory>
#include <shared_mutex>

#include "client/config.h"
#include "client/connection.h"
#include "client/init_cache.h"
#include "client/session_pool.h"
#include "client/session_table.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::client {

struct Library {
  explicit Library(const Config& c) : config(c), connection(c) {}
  Config config;
  Connection connection;
  SessionTable sessions;
  InitCache inits;
  SessionPool spares;
};

// A call's hold on the library: false if it is not initialized.
class LibraryRef {
 public:
  LibraryRef();
  explicit operator bool() const { return library_ != nullptr; }
  Library* operator->() const { return library_; }
  Library& operator*() const { return *library_; }

 private:
  std::shared_lock<std::shared_mutex> lock_;
  Library* library_;
};

CK_RV InitializeLibrary(CK_VOID_PTR init_args);
CK_RV FinalizeLibrary(CK_VOID_PTR reserved);

}  // namespace hsm::client

#endif  // HSM_CLIENT_LIBRARY_H_
