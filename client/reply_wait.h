// How a call waits for hsmd's reply. A gRPC synchronous call sleeps in
// epoll until the reply arrives; on a virtual machine waking that thread
// (and its idle virtual CPU) costs 20 to 50 µs, as much as the whole round
// trip on loopback. So the library sends each call asynchronously on a
// completion queue of its own and polls that queue, without sleeping and
// yielding the core to anything else that wants it, for a short while
// before it sleeps: a reply that comes within that time is taken at once.
// Polling is free while a core is idle. But a polling thread looks busy to
// the scheduler: on a machine it shares with hsmd, when hsmd's slow
// computations (RSA signatures) leave one core at most, a poller on that
// core makes hsmd's woken threads wait behind the computations. hsmd says
// so (DataReply.cores_busy), and data calls then sleep instead for a while.
#ifndef HSM_CLIENT_REPLY_WAIT_H_
#define HSM_CLIENT_REPLY_WAIT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>

namespace hsm::client {

// Waits until the one operation queued on `queue` (a call's Finish) has
// completed, polling for up to `spin` before sleeping; then shuts `queue`
// down and drains it, so it may be destroyed.
void AwaitReply(grpc::CompletionQueue& queue, std::chrono::microseconds spin);

// hsmd said its slow computations leave it a core at most (DataReply.cores_busy).
void NoteCoresBusy();
// Whether it said so lately: data calls then sleep while they wait.
bool CoresWereBusy();

}  // namespace hsm::client

#endif  // HSM_CLIENT_REPLY_WAIT_H_
