// The LMDB environment: one file pair in the data folder, named databases,
// and transactions that are RAII objects. The map grows by itself: a write
// that hits MDB_MAP_FULL is retried after the map is doubled, so callers
// never see it.
#ifndef HSM_STORAGE_LMDB_ENV_H_
#define HSM_STORAGE_LMDB_ENV_H_

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace hsm::storage {

// A read-only or read-write transaction. Values read stay valid until the
// transaction ends.
class Txn {
 public:
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn();

  // The value under `key`, or nullopt.
  absl::StatusOr<std::optional<std::string_view>> Get(MDB_dbi db, std::string_view key);
  absl::Status Put(MDB_dbi db, std::string_view key, std::string_view value);
  // Deleting a missing key is not an error.
  absl::Status Delete(MDB_dbi db, std::string_view key);
  // Calls `visit` for every key starting with `prefix`, in key order, until it
  // returns false.
  absl::Status ForEachWithPrefix(
      MDB_dbi db, std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& visit);

  MDB_txn* raw() { return txn_; }

 private:
  friend class LmdbEnv;
  explicit Txn(MDB_txn* txn) : txn_(txn) {}
  absl::Status Commit();
  absl::Status Check(int rc, std::string_view what);

  MDB_txn* txn_;
  // Set when LMDB said MDB_MAP_FULL: the write is retried on a larger map.
  bool map_full_ = false;
};

class LmdbEnv {
 public:
  struct Options {
    // The map's size at open; it doubles whenever it is full.
    size_t initial_map_size = size_t{64} << 20;
    unsigned max_databases = 16;
  };

  // Opens (creating if needed) the environment in folder `dir`.
  static absl::StatusOr<std::unique_ptr<LmdbEnv>> Open(const std::string& dir,
                                                       const Options& options);
  static absl::StatusOr<std::unique_ptr<LmdbEnv>> Open(const std::string& dir) {
    return Open(dir, Options());
  }
  ~LmdbEnv();

  // Opens (creating if needed) a named database. Call before any concurrent use.
  absl::StatusOr<MDB_dbi> OpenDatabase(const std::string& name);

  // Runs `body` in a read transaction.
  absl::Status Read(const std::function<absl::Status(Txn&)>& body);
  // Runs `body` in a write transaction and commits it if `body` returns OK;
  // the commit is durable when this returns OK. `body` may run more than once
  // (after the map has grown), so it must not have side effects outside `txn`.
  absl::Status Write(const std::function<absl::Status(Txn&)>& body);

  size_t map_size() const { return map_size_; }

  // A consistent, compacted copy of the environment, taken while it is in
  // use, into the existing empty folder `dir` (as dir/data.mdb).
  absl::Status CopyTo(const std::string& dir);

 private:
  LmdbEnv(MDB_env* env, size_t map_size) : env_(env), map_size_(map_size) {}
  absl::Status Grow();

  MDB_env* env_;
  size_t map_size_;
  // Shared by every transaction; taken exclusively to resize the map, which
  // LMDB allows only while this process has no transaction open.
  std::shared_mutex resize_mutex_;
  // Read transactions reset after use, renewed by the next Read: cheaper than
  // a new one each time (at most one per thread that ever read at once).
  std::mutex idle_readers_mutex_;
  std::vector<MDB_txn*> idle_readers_;
  // LMDB allows one write transaction at a time; it waits on its own lock,
  // but serialising here keeps the resize logic simple.
  std::mutex write_mutex_;
};

// An absl::Status for an LMDB return code.
absl::Status LmdbError(int rc, std::string_view what);

}  // namespace hsm::storage

#endif  // HSM_STORAGE_LMDB_ENV_H_
