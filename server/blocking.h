// A note from code about to do something slow (a private-key RSA operation,
// ECDSA on P-384 or P-521) to hsmd's RPC threads: the thread running it
// hands polling to another thread first (server/rpc_server.h), so other
// clients' calls do not wait behind it. Calls known to be slow as a whole
// (PIN hashing, LMDB writes) are marked in server/rpc_routes.cc instead.
#ifndef HSM_SERVER_BLOCKING_H_
#define HSM_SERVER_BLOCKING_H_

namespace hsm::server {

// Runs the current thread's hook, once per call; nothing if there is none
// (unit tests, or the call already said so).
void AboutToBlock();

// Installs `hook(arg)` for the current thread until the next install; the
// hook runs at most once.
void SetBlockingHook(void (*hook)(void*), void* arg);

// Whether the current thread's hook is still installed (not run, not cleared).
bool BlockingHookPending();

}  // namespace hsm::server

#endif  // HSM_SERVER_BLOCKING_H_
