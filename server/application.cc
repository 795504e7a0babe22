#include "server/application.h"

#include "third_party/pkcs11/pkcs11.h"

#include <algorithm>

namespace hsm::server {

uint64_t SessionObjectBytes(const storage::AttributeSet& attributes) {
  // A map node and the message's own members, roughly.
  constexpr uint64_t kPerAttribute = 96;
  uint64_t bytes = 0;
  for (const auto& [type, value] : attributes) bytes += kPerAttribute + value.ByteSizeLong();
  return bytes;
}

bool Application::HasSlot(uint64_t slot_id) const {
  return std::find(slot_ids_.begin(), slot_ids_.end(), slot_id) != slot_ids_.end();
}

Session* Application::TryOpenSession(uint64_t slot_id, bool read_write, uint64_t tenant_limit) {
  uint64_t open = tenant_sessions_->load(std::memory_order_relaxed);
  do {
    if (tenant_limit != 0 && open >= tenant_limit) return nullptr;
  } while (!tenant_sessions_->compare_exchange_weak(open, open + 1, std::memory_order_relaxed));
  auto session = std::make_unique<Session>();
  session->id = next_session_id_++;
  session->slot_id = slot_id;
  session->read_write = read_write;
  session->operations = std::make_shared<SessionOperations>(operation_memory_);
  Session& result = *session;
  sessions_[result.id] = std::move(session);
  return &result;
}

Session* Application::FindSession(uint64_t session_id) {
  auto it = sessions_.find(session_id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

void Application::CloseSession(uint64_t session_id) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return;
  uint64_t slot_id = it->second->slot_id;
  sessions_.erase(it);
  tenant_sessions_->fetch_sub(1, std::memory_order_relaxed);
  if (objects_of_session_.count(session_id) != 0) {
    for (auto object = session_objects_.begin(); object != session_objects_.end();) {
      object = object->second.session_id == session_id ? EraseSessionObject(object) : std::next(object);
    }
  }
  if (SessionCount(slot_id) == 0) login_.erase(slot_id);
}

void Application::CloseAllSessions(uint64_t slot_id) {
  const size_t before = sessions_.size();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second->slot_id == slot_id ? sessions_.erase(it) : std::next(it);
  }
  tenant_sessions_->fetch_sub(before - sessions_.size(), std::memory_order_relaxed);
  for (auto object = session_objects_.begin(); object != session_objects_.end();) {
    object = object->second.slot_id == slot_id ? EraseSessionObject(object) : std::next(object);
  }
  login_.erase(slot_id);
}

size_t Application::SessionCount(uint64_t slot_id) const {
  return std::count_if(sessions_.begin(), sessions_.end(),
                       [&](const auto& s) { return s.second->slot_id == slot_id; });
}

size_t Application::ReadWriteSessionCount(uint64_t slot_id) const {
  return std::count_if(sessions_.begin(), sessions_.end(), [&](const auto& s) {
    return s.second->slot_id == slot_id && s.second->read_write;
  });
}

std::optional<uint64_t> Application::AddSessionObject(SessionObject object, uint64_t byte_limit) {
  object.bytes = SessionObjectBytes(object.attributes);
  if (!FitsBeside(session_object_bytes_, object.bytes, byte_limit)) return std::nullopt;
  session_object_bytes_ += object.bytes;
  uint64_t handle = next_object_handle_++;
  ++objects_of_session_[object.session_id];
  session_objects_[handle] = std::move(object);
  return handle;
}

const SessionObject* Application::FindSessionObject(uint64_t handle) const {
  auto it = session_objects_.find(handle);
  return it == session_objects_.end() ? nullptr : &it->second;
}

Application::SetResult Application::SetSessionObjectAttributes(uint64_t handle, storage::AttributeSet attributes,
                                                               uint64_t byte_limit) {
  auto it = session_objects_.find(handle);
  if (it == session_objects_.end()) return SetResult::kNoSuchObject;
  const uint64_t bytes = SessionObjectBytes(attributes);
  const uint64_t others = session_object_bytes_ - it->second.bytes;
  if (!FitsBeside(others, bytes, byte_limit)) return SetResult::kOverLimit;
  session_object_bytes_ = others + bytes;
  it->second.attributes = std::move(attributes);
  it->second.bytes = bytes;
  return SetResult::kDone;
}

void Application::RemoveSessionObject(uint64_t handle) {
  auto it = session_objects_.find(handle);
  if (it != session_objects_.end()) EraseSessionObject(it);
}

std::map<uint64_t, SessionObject>::iterator Application::EraseSessionObject(
    std::map<uint64_t, SessionObject>::iterator it) {
  session_object_bytes_ -= it->second.bytes;
  auto owner = objects_of_session_.find(it->second.session_id);
  if (owner != objects_of_session_.end() && --owner->second == 0) objects_of_session_.erase(owner);
  return session_objects_.erase(it);
}

std::vector<uint64_t> Application::SessionObjectsOn(uint64_t slot_id) const {
  std::vector<uint64_t> handles;
  for (const auto& [handle, object] : session_objects_) {
    if (object.slot_id == slot_id) handles.push_back(handle);
  }
  return handles;
}

LoginState Application::login(uint64_t slot_id) const {
  auto it = login_.find(slot_id);
  return it == login_.end() ? LoginState::kPublic : it->second;
}

void Application::set_login(uint64_t slot_id, LoginState state) {
  if (state == LoginState::kPublic) {
    login_.erase(slot_id);
  } else {
    login_[slot_id] = state;
  }
}

uint64_t SessionState(const Session& session, LoginState login) {
  switch (login) {
    case LoginState::kSecurityOfficer:
      return CKS_RW_SO_FUNCTIONS;
    case LoginState::kUser:
      return session.read_write ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    case LoginState::kPublic:
      break;
  }
  return session.read_write ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
}

}  // namespace hsm::server
