#include "client/call.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace hsm::client {

namespace {

size_t QueueCloses(Library& library, const std::vector<SessionPool::Spare>& spares) {
  for (const SessionPool::Spare& spare : spares) library.connection.QueueClose(spare.server_session, spare.epoch);
  return spares.size();
}

}  // namespace

void ReleaseSpareSessions(Library& library, uint64_t slot_id) { QueueCloses(library, library.spares.TakeSlot(slot_id)); }

size_t ReleaseAllSpareSessions(Library& library) { return QueueCloses(library, library.spares.TakeAll()); }

SessionCall::SessionCall(CK_SESSION_HANDLE handle) : handle_(handle) {
  if (!library_) {
    status_ = CKR_CRYPTOKI_NOT_INITIALIZED;
    return;
  }
  std::optional<SessionEntry> entry = library_->sessions.Find(handle);
  if (!entry.has_value()) {
    status_ = CKR_SESSION_HANDLE_INVALID;
    return;
  }
  if (entry->epoch != library_->connection.epoch()) {
    // Opened before hsmd restarted: that session is gone.
    library_->sessions.Remove(handle);
    status_ = CKR_SESSION_HANDLE_INVALID;
    return;
  }
  entry_ = *entry;
}

CK_RV RequestOutput(CK_BYTE_PTR out, CK_ULONG_PTR out_len, hsm::v1::OutputSpec* spec) {
  if (out_len == nullptr) return CKR_ARGUMENTS_BAD;
  spec->set_length_only(out == nullptr);
  spec->set_buffer_len(out == nullptr ? 0 : *out_len);
  return CKR_OK;
}

CK_RV DeliverOutput(CK_RV rv, const hsm::v1::DataReply& reply, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  if (rv == CKR_BUFFER_TOO_SMALL) {
    *out_len = reply.length();
    return rv;
  }
  if (rv != CKR_OK) return rv;
  if (out == nullptr) {
    *out_len = reply.length();
    return CKR_OK;
  }
  if (reply.data().size() > *out_len) {  // hsmd should have said so; never overrun
    *out_len = reply.data().size();
    return CKR_BUFFER_TOO_SMALL;
  }
  if (!reply.data().empty()) std::memcpy(out, reply.data().data(), reply.data().size());
  *out_len = reply.data().size();
  return CKR_OK;
}

void CopyPadded(CK_UTF8CHAR* field, size_t size, const std::string& text) {
  std::memset(field, ' ', size);
  std::memcpy(field, text.data(), std::min(size, text.size()));
}

}  // namespace hsm::client
