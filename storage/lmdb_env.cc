#include "storage/lmdb_env.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace hsm::storage {
namespace {

MDB_val ToVal(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

std::string_view FromVal(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

}  // namespace

absl::Status LmdbError(int rc, std::string_view what) {
  std::string message = absl::StrCat("LMDB ", std::string(what), ": ", mdb_strerror(rc));
  if (rc == MDB_NOTFOUND) return absl::NotFoundError(message);
  return absl::InternalError(message);
}

Txn::~Txn() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
}

absl::Status Txn::Check(int rc, std::string_view what) {
  if (rc == 0) return absl::OkStatus();
  if (rc == MDB_MAP_FULL) map_full_ = true;
  return LmdbError(rc, what);
}

absl::Status Txn::Commit() {
  int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;  // committed or, on failure, freed by LMDB
  return Check(rc, "commit");
}

absl::StatusOr<std::optional<std::string_view>> Txn::Get(MDB_dbi db, std::string_view key) {
  MDB_val k = ToVal(key), v;
  int rc = mdb_get(txn_, db, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != 0) return LmdbError(rc, "get");
  return std::optional<std::string_view>(FromVal(v));
}

absl::Status Txn::Put(MDB_dbi db, std::string_view key, std::string_view value) {
  MDB_val k = ToVal(key), v = ToVal(value);
  return Check(mdb_put(txn_, db, &k, &v, 0), "put");
}

absl::Status Txn::Delete(MDB_dbi db, std::string_view key) {
  MDB_val k = ToVal(key);
  int rc = mdb_del(txn_, db, &k, nullptr);
  if (rc == MDB_NOTFOUND) return absl::OkStatus();
  return Check(rc, "delete");
}

absl::Status Txn::ForEachWithPrefix(
    MDB_dbi db, std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& visit) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn_, db, &cursor);
  if (rc != 0) return LmdbError(rc, "cursor");
  MDB_val k = ToVal(prefix), v;
  // LMDB refuses an empty key, so an empty prefix starts at the first key.
  rc = mdb_cursor_get(cursor, &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
  while (rc == 0) {
    std::string_view key = FromVal(k);
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!visit(key, FromVal(v))) break;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(rc, "cursor walk");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LmdbEnv>> LmdbEnv::Open(const std::string& dir,
                                                       const Options& options) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat("cannot create data folder ", dir, ": ", std::strerror(errno)));
  }
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return LmdbError(rc, "env create");
  // Start at the size the file already has, if larger than the default.
  size_t map_size = options.initial_map_size;
  struct stat st;
  if (stat((dir + "/data.mdb").c_str(), &st) == 0 && static_cast<size_t>(st.st_size) > map_size) {
    map_size = static_cast<size_t>(st.st_size);
  }
  mdb_env_set_mapsize(env, map_size);
  mdb_env_set_maxdbs(env, options.max_databases);
  mdb_env_set_maxreaders(env, 1024);
  // MDB_NOTLS: read transactions are not tied to threads, since gRPC's threads
  // come and go.
  rc = mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0600);
  if (rc != 0) {
    mdb_env_close(env);
    return LmdbError(rc, absl::StrCat("open ", dir));
  }
  MDB_envinfo info;
  mdb_env_info(env, &info);
  return std::unique_ptr<LmdbEnv>(new LmdbEnv(env, info.me_mapsize));
}

LmdbEnv::~LmdbEnv() {
  for (MDB_txn* reader : idle_readers_) mdb_txn_abort(reader);
  mdb_env_close(env_);
}

absl::StatusOr<MDB_dbi> LmdbEnv::OpenDatabase(const std::string& name) {
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  std::shared_lock<std::shared_mutex> lock(resize_mutex_);
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) return LmdbError(rc, "begin");
  MDB_dbi dbi;
  rc = mdb_dbi_open(txn, name.c_str(), MDB_CREATE, &dbi);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return LmdbError(rc, absl::StrCat("open database ", name));
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbError(rc, "commit");
  return dbi;
}

absl::Status LmdbEnv::Read(const std::function<absl::Status(Txn&)>& body) {
  std::shared_lock<std::shared_mutex> lock(resize_mutex_);
  // Reuse a reset read transaction (mdb_txn_renew) rather than begin one:
  // its reader slot is already taken.
  MDB_txn* raw = nullptr;
  {
    std::lock_guard<std::mutex> idle_lock(idle_readers_mutex_);
    if (!idle_readers_.empty()) {
      raw = idle_readers_.back();
      idle_readers_.pop_back();
    }
  }
  int rc = raw != nullptr ? mdb_txn_renew(raw) : mdb_txn_begin(env_, nullptr, MDB_RDONLY, &raw);
  if (rc != 0) {
    if (raw != nullptr) mdb_txn_abort(raw);
    return LmdbError(rc, "begin read");
  }
  Txn txn(raw);
  absl::Status status = body(txn);
  txn.txn_ = nullptr;
  mdb_txn_reset(raw);
  std::lock_guard<std::mutex> idle_lock(idle_readers_mutex_);
  idle_readers_.push_back(raw);
  return status;
}

absl::Status LmdbEnv::Write(const std::function<absl::Status(Txn&)>& body) {
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  for (;;) {
    absl::Status status;
    bool map_full = false;
    {
      std::shared_lock<std::shared_mutex> lock(resize_mutex_);
      MDB_txn* raw = nullptr;
      int rc = mdb_txn_begin(env_, nullptr, 0, &raw);
      if (rc != 0) return LmdbError(rc, "begin write");
      Txn txn(raw);
      status = body(txn);
      if (status.ok()) status = txn.Commit();
      map_full = txn.map_full_;
    }
    if (!map_full) return status;
    absl::Status grown = Grow();
    if (!grown.ok()) return grown;
  }
}

absl::Status LmdbEnv::CopyTo(const std::string& dir) {
  std::shared_lock<std::shared_mutex> lock(resize_mutex_);
  int rc = mdb_env_copy2(env_, dir.c_str(), MDB_CP_COMPACT);
  return rc == 0 ? absl::OkStatus() : LmdbError(rc, absl::StrCat("copy to ", dir));
}

absl::Status LmdbEnv::Grow() {
  std::unique_lock<std::shared_mutex> lock(resize_mutex_);
  size_t bigger = map_size_ * 2;
  int rc = mdb_env_set_mapsize(env_, bigger);
  if (rc != 0) return LmdbError(rc, "grow map");
  map_size_ = bigger;
  return absl::OkStatus();
}

}  // namespace hsm::storage
