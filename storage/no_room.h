// What "no room" means for a failed write, for every file hsmd keeps: the
// disk is full, a quota is reached, or the file is at the size limit
// (ulimit -f). Such failures are answered as the token's memory being full
// (CKR_DEVICE_MEMORY); others are device errors.
#ifndef HSM_STORAGE_NO_ROOM_H_
#define HSM_STORAGE_NO_ROOM_H_

#include <cerrno>

namespace hsm::storage {

inline bool IsNoRoomError(int error) { return error == ENOSPC || error == EDQUOT || error == EFBIG; }

}  // namespace hsm::storage

#endif  // HSM_STORAGE_NO_ROOM_H_
