// A note from code about to do something slow (a private-key RSA operation,
// ECDSA on P-384 or P-521) to hsmd's RPC threads: the thread running it
// hands polling to another thread first (server/rpc_server.h), so other
// clients' calls do not wait behind it. Calls known to be slow as a whole
// (PIN hashing, LMDB writes) are marked in server/rpc_routes.cc instead.
#ifndef HSM_SERVER_BLOCKING_H_
#define HSM_SERVER_BLOCKING_H_

namespace hsm::server {

// What the RPC thread running the current call offers the code it runs.
struct BlockingHook {
  // Hands off polling before a slow computation.
  void (*about_to_block)(void* arg) = nullptr;
  // Whether slow computations leave at most one core free now.
  bool (*cores_busy)(void* arg) = nullptr;
  // The slow computation is over.
  void (*done_computing)(void* arg) = nullptr;
  void* arg = nullptr;
  // The call turns out long (RSA key generation, an RSA key's checks).
  void (*long_call)(void* arg) = nullptr;
};

// Runs the current thread's about_to_block, once per call; nothing if there
// is none (unit tests, or the call already said so).
void AboutToBlock();

// Installs `hook` for the current thread until the next install (nullptr:
// none); its about_to_block runs at most once.
void SetBlockingHook(const BlockingHook* hook);

// The current call will take long, up to seconds (RSA key generation, an
// imported RSA key's checks, a search through thousands of objects): if no
// other thread can take over polling, the server starts one
// (server/rpc_server.h). Nothing outside an RPC thread.
void LongCall();

// Whether the current thread's about_to_block is still to run.
bool BlockingHookPending();

// The current call's slow computation, if it announced one, is over: runs
// done_computing once. The RPC thread calls it before the reply goes, so
// that the client's next call never finds this one still counted.
void ComputationDone();

// Whether this call announced a slow computation (AboutToBlock) and the slow
// computations running leave at most one core free: a client on the same
// machine that polled for its next reply would take that core from hsmd's
// other threads (DataReply.cores_busy).
bool CoresBusyComputing();

}  // namespace hsm::server

#endif  // HSM_SERVER_BLOCKING_H_
