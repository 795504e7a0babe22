#include "server/application_registry.h"

#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "server/log.h"

namespace hsm::server {
namespace {

// Application ids are random so that one client cannot guess another's.
uint64_t RandomId() {
  uint64_t id = 0;
  while (id == 0) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof(id)) != 1) std::abort();
  }
  return id;
}

}  // namespace

ApplicationRegistry::ApplicationRegistry(absl::Duration idle_timeout)
    : idle_timeout_(idle_timeout), reaper_([this] { ReaperLoop(); }) {}

ApplicationRegistry::~ApplicationRegistry() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  reaper_.join();
}

std::shared_ptr<Application> ApplicationRegistry::Register(uint64_t tenant_id,
                                                           std::vector<uint64_t> slot_ids,
                                                           std::string peer) {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t id;
  do {
    id = RandomId();
  } while (apps_.count(id) != 0);
  std::shared_ptr<std::atomic<uint64_t>>& sessions = tenant_sessions_[tenant_id];
  if (sessions == nullptr) sessions = std::make_shared<std::atomic<uint64_t>>(0);
  auto app = std::make_shared<Application>(id, tenant_id, std::move(slot_ids), std::move(peer), sessions);
  apps_[id] = app;
  return app;
}

std::shared_ptr<Application> ApplicationRegistry::Find(uint64_t app_id, uint64_t tenant_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = apps_.find(app_id);
  if (it == apps_.end() || it->second->tenant_id() != tenant_id) return nullptr;
  it->second->Touch();
  return it->second;
}

void ApplicationRegistry::Remove(uint64_t app_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  apps_.erase(app_id);
}

void ApplicationRegistry::ForEach(uint64_t tenant_id,
                                  const std::function<void(Application&)>& visit) {
  std::vector<std::shared_ptr<Application>> apps;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [id, app] : apps_) {
      if (app->tenant_id() == tenant_id) apps.push_back(app);
    }
  }
  for (const auto& app : apps) visit(*app);
}

size_t ApplicationRegistry::DropIdle() {
  absl::Time cutoff = absl::Now() - idle_timeout_;
  std::vector<std::shared_ptr<Application>> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = apps_.begin(); it != apps_.end();) {
      if (it->second->last_seen() < cutoff) {
        dropped.push_back(it->second);
        it = apps_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& app : dropped) {
    LogInfo(absl::StrCat("dropped idle application ", absl::Hex(app->id()), " of ", app->peer()));
  }
  return dropped.size();
}

size_t ApplicationRegistry::size() {
  std::lock_guard<std::mutex> lock(mutex_);
  return apps_.size();
}

void ApplicationRegistry::ReaperLoop() {
  // Check often enough that an application is gone within 1.1x the timeout.
  absl::Duration period = std::max(absl::Milliseconds(100), idle_timeout_ / 10);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, absl::ToChronoMilliseconds(period));
    if (stopping_) break;
    lock.unlock();
    DropIdle();
    lock.lock();
  }
}

}  // namespace hsm::server
