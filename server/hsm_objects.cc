// Object management (PKCS #11 2.40 section 5.7): searching a session's view
// of the token. A search takes its matches when it starts and hands them out
// in pages, so each match is returned once however small the pages.
#include <algorithm>

#include "server/hsm.h"
#include "server/rv.h"

namespace hsm::server {

absl::Status Hsm::FindObjectsInit(Application& app, const v1::FindObjectsInitRequest& request,
                                  v1::StatusReply*) {
  std::lock_guard<std::mutex> lock(app.mutex());
  Session* session = app.FindSession(request.session());
  if (session == nullptr) return RvError(CKR_SESSION_HANDLE_INVALID);
  if (session->find.has_value()) return RvError(CKR_OPERATION_ACTIVE);
  // The token holds no objects until object storage is in place, so every
  // template matches nothing.
  session->find.emplace();
  return absl::OkStatus();
}

absl::Status Hsm::FindObjects(Application& app, const v1::FindObjectsRequest& request,
                              v1::FindObjectsReply* reply) {
  std::lock_guard<std::mutex> lock(app.mutex());
  Session* session = app.FindSession(request.session());
  if (session == nullptr) return RvError(CKR_SESSION_HANDLE_INVALID);
  if (!session->find.has_value()) return RvError(CKR_OPERATION_NOT_INITIALIZED);
  FindOperation& find = *session->find;
  const size_t count = std::min<size_t>(request.max_objects(), find.handles.size() - find.next);
  for (size_t i = 0; i < count; ++i) reply->add_objects(find.handles[find.next + i]);
  find.next += count;
  return absl::OkStatus();
}

absl::Status Hsm::FindObjectsFinal(Application& app, const v1::SessionRequest& request,
                                   v1::StatusReply*) {
  std::lock_guard<std::mutex> lock(app.mutex());
  Session* session = app.FindSession(request.session());
  if (session == nullptr) return RvError(CKR_SESSION_HANDLE_INVALID);
  if (!session->find.has_value()) return RvError(CKR_OPERATION_NOT_INITIALIZED);
  session->find.reset();
  return absl::OkStatus();
}

}  // namespace hsm::server
