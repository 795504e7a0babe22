// All live applications, by the random id hsmd gave each. Applications that
// are not heard from for the idle timeout (a client that died without
// C_Finalize) are dropped with their sessions and login state.
#ifndef HSM_SERVER_APPLICATION_REGISTRY_H_
#define HSM_SERVER_APPLICATION_REGISTRY_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/application.h"

namespace hsm::server {

class ApplicationRegistry {
 public:
  // Starts a thread that drops applications idle for longer than `idle_timeout`.
  explicit ApplicationRegistry(absl::Duration idle_timeout);
  ~ApplicationRegistry();

  absl::Duration idle_timeout() const { return idle_timeout_; }

  std::shared_ptr<Application> Register(uint64_t tenant_id, std::vector<uint64_t> slot_ids,
                                        std::string peer);
  // The application, if it exists and belongs to `tenant_id`; marks it seen.
  std::shared_ptr<Application> Find(uint64_t app_id, uint64_t tenant_id);
  void Remove(uint64_t app_id);
  // Calls `visit` for every application of `tenant_id` (each unlocked).
  void ForEach(uint64_t tenant_id, const std::function<void(Application&)>& visit);
  // Drops applications idle for longer than the timeout; returns how many.
  size_t DropIdle();
  size_t size();

 private:
  void ReaperLoop();

  const absl::Duration idle_timeout_;
  std::mutex mutex_;
  std::unordered_map<uint64_t, std::shared_ptr<Application>> apps_;
  // Open sessions per tenant, shared by the tenant's applications.
  std::unordered_map<uint64_t, std::shared_ptr<std::atomic<uint64_t>>> tenant_sessions_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread reaper_;
};

}  // namespace hsm::server

#endif  // HSM_SERVER_APPLICATION_REGISTRY_H_
