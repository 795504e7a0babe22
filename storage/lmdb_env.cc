#include "storage/lmdb_env.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "storage/byte_order.h"
#include "storage/no_room.h"

namespace hsm::storage {
namespace {

constexpr char kAppliedKey[] = "applied";

std::string Le64(uint64_t v) {
  std::string out;
  AppendLe(&out, v, 8);
  return out;
}

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
  failed_rc_ = rc;
  return LmdbError(rc, what);
}

absl::Status Txn::Commit() {
  int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;  // committed or, on failure, freed by LMDB
  return Check(rc, "commit");
}

absl::Status Txn::CheckKey(std::string_view key) const {
  // What LMDB would refuse when the change reaches it.
  if (key.empty() || key.size() > 511) return absl::InvalidArgumentError("LMDB key size out of range");
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string_view>> Txn::Get(MDB_dbi db, std::string_view key) {
  if (changes_ != nullptr) {
    auto it = changes_->find(std::make_pair(db, key));
    if (it != changes_->end()) return it->second ? std::optional<std::string_view>(*it->second) : std::nullopt;
  }
  for (const ChangeMap* layer : layers_) {
    auto it = layer->find(std::make_pair(db, key));
    if (it != layer->end()) return it->second ? std::optional<std::string_view>(*it->second) : std::nullopt;
  }
  MDB_val k = ToVal(key), v;
  int rc = mdb_get(txn_, db, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != 0) return LmdbError(rc, "get");
  return std::optional<std::string_view>(FromVal(v));
}

absl::Status Txn::Put(MDB_dbi db, std::string_view key, std::string_view value) {
  if (layered_) {
    if (changes_ == nullptr) return absl::FailedPreconditionError("a read transaction cannot write");
    HSM_STORAGE_RETURN_IF_ERROR(CheckKey(key));
    (*changes_)[std::make_pair(db, std::string(key))] = std::string(value);
    return absl::OkStatus();
  }
  MDB_val k = ToVal(key), v = ToVal(value);
  return Check(mdb_put(txn_, db, &k, &v, 0), "put");
}

absl::Status Txn::Delete(MDB_dbi db, std::string_view key) {
  if (layered_) {
    if (changes_ == nullptr) return absl::FailedPreconditionError("a read transaction cannot write");
    HSM_STORAGE_RETURN_IF_ERROR(CheckKey(key));
    (*changes_)[std::make_pair(db, std::string(key))] = std::nullopt;
    return absl::OkStatus();
  }
  MDB_val k = ToVal(key);
  int rc = mdb_del(txn_, db, &k, nullptr);
  if (rc == MDB_NOTFOUND) return absl::OkStatus();
  return Check(rc, "delete");
}

absl::Status Txn::ForEachWithPrefix(
    MDB_dbi db, std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& visit) {
  // The layers' changes under the prefix, newest winning.
  std::map<std::string_view, std::optional<std::string_view>> overlay;
  auto collect = [&](const ChangeMap& layer) {
    for (auto it = layer.lower_bound(std::make_pair(db, prefix));
         it != layer.end() && it->first.first == db &&
         std::string_view(it->first.second).substr(0, prefix.size()) == prefix;
         ++it) {
      overlay.emplace(it->first.second,
                      it->second ? std::optional<std::string_view>(*it->second) : std::nullopt);
    }
  };
  if (changes_ != nullptr) collect(*changes_);
  for (const ChangeMap* layer : layers_) collect(*layer);  // emplace keeps the newer
  if (overlay.empty()) return WalkLmdb(db, prefix, visit);

  // Merge the overlay into LMDB's walk, in key order.
  auto next = overlay.begin();
  bool stopped = false;
  auto emit_overlay_before = [&](const std::string_view* key) {
    while (!stopped && next != overlay.end() && (key == nullptr || next->first < *key)) {
      if (next->second.has_value() && !visit(next->first, *next->second)) stopped = true;
      ++next;
    }
  };
  absl::Status walked = WalkLmdb(db, prefix, [&](std::string_view key, std::string_view value) {
    emit_overlay_before(&key);
    if (stopped) return false;
    if (next != overlay.end() && next->first == key) {  // changed or deleted since
      const bool keep_going = !next->second.has_value() || visit(key, *next->second);
      ++next;
      if (!keep_going) stopped = true;
      return keep_going;
    }
    if (!visit(key, value)) stopped = true;
    return !stopped;
  });
  if (!walked.ok()) return walked;
  emit_overlay_before(nullptr);
  return absl::OkStatus();
}

absl::Status Txn::WalkLmdb(MDB_dbi db, std::string_view prefix,
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
  mdb_env_set_maxdbs(env, options.max_databases + 1);  // and the journal's
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
  std::unique_ptr<LmdbEnv> opened(new LmdbEnv(env, info.me_mapsize, dir));
  opened->on_lmdb_behind_ = options.on_lmdb_behind;
  if (options.journal) HSM_STORAGE_RETURN_IF_ERROR(opened->StartJournal(dir, options));
  return opened;
}

absl::Status LmdbEnv::StartJournal(const std::string& dir, const Options& options) {
  absl::StatusOr<MDB_dbi> db = OpenDatabase("journal");
  if (!db.ok()) return db.status();
  journal_db_ = *db;
  uint64_t applied = 0;
  HSM_STORAGE_RETURN_IF_ERROR(Read([&](Txn& txn) -> absl::Status {
    absl::StatusOr<std::optional<std::string_view>> value = txn.Get(journal_db_, kAppliedKey);
    if (!value.ok()) return value.status();
    if (value->has_value()) applied = ReadLe(**value, 8);
    return absl::OkStatus();
  }));
  absl::StatusOr<std::unique_ptr<Journal>> journal = Journal::Open(dir, options.journal_file_size);
  if (!journal.ok()) return journal.status();
  // What a crash left in the journal only: into LMDB, in order.
  absl::StatusOr<std::vector<JournalRecord>> records = (*journal)->Recover(applied);
  if (!records.ok()) return records.status();
  if (!records->empty()) {
    HSM_STORAGE_RETURN_IF_ERROR(WriteDirect([&](Txn& txn) -> absl::Status {
      std::map<std::string, MDB_dbi> databases;
      for (const JournalRecord& record : *records) {
        for (const JournalChange& change : record.changes) {
          auto found = databases.find(change.database);
          if (found == databases.end()) {
            MDB_dbi dbi;
            int rc = mdb_dbi_open(txn.txn_, change.database.c_str(), MDB_CREATE, &dbi);
            if (rc != 0) return LmdbError(rc, "open database from the journal");
            found = databases.emplace(change.database, dbi).first;
          }
          HSM_STORAGE_RETURN_IF_ERROR(change.value ? txn.Put(found->second, change.key, *change.value)
                                                : txn.Delete(found->second, change.key));
        }
      }
      return txn.Put(journal_db_, kAppliedKey, Le64(records->back().sequence));
    }));
    applied = records->back().sequence;
  }
  journal_ = std::move(*journal);
  next_sequence_ = synced_sequence_ = visible_sequence_ = last_reserved_ = applied;
  flusher_ = std::thread([this, interval = options.flush_interval] { RunFlusher(interval); });
  return absl::OkStatus();
}

LmdbEnv::~LmdbEnv() {
  if (flusher_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(flusher_mutex_);
      flusher_stop_ = true;
    }
    flusher_wake_.notify_all();
    flusher_.join();
    Flush().IgnoreError();  // what is left stays in the journal if this fails
  }
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
  database_names_[dbi] = name;
  return dbi;
}

absl::Status LmdbEnv::Read(const std::function<absl::Status(Txn&)>& body) {
  return ReadLayered(nullptr, body);
}

absl::Status LmdbEnv::ReadLayered(ChangeMap* changes, const std::function<absl::Status(Txn&)>& body) {
  // Held through the body: a flush drops its layer only once LMDB has it, and
  // no reader may be between the two.
  std::shared_lock<std::shared_mutex> layers_lock(layers_mutex_, std::defer_lock);
  std::vector<const ChangeMap*> layers;
  if (journal_ != nullptr) {
    layers_lock.lock();
    if (changes != nullptr && !pending_.empty()) layers.push_back(&pending_);
    if (!visible_.empty()) layers.push_back(&visible_);
    if (!flushing_.empty()) layers.push_back(&flushing_);
  }
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
  absl::Status status;
  {
    Txn txn(raw, std::move(layers), changes);
    status = body(txn);
    txn.txn_ = nullptr;
  }
  mdb_txn_reset(raw);
  std::lock_guard<std::mutex> idle_lock(idle_readers_mutex_);
  idle_readers_.push_back(raw);
  return status;
}

absl::Status LmdbEnv::Broken() const {
  return absl::InternalError(absl::StrCat("storage stopped after a failed write: ", broken_reason_));
}

absl::Status LmdbEnv::Write(const std::function<absl::Status(Txn&)>& body) {
  if (journal_ == nullptr) {
    std::lock_guard<std::mutex> write_lock(write_mutex_);
    return WriteDirect(body);
  }
  uint64_t sequence;
  Journal::Slot slot;
  std::string encoded;
  {
    std::lock_guard<std::mutex> write_lock(write_mutex_);
    if (broken_) return Broken();
    // Pending changes that are on disk now are in visible_ (or later layers).
    {
      std::lock_guard<std::mutex> sync_lock(sync_mutex_);
      for (auto it = pending_sequence_.begin(); it != pending_sequence_.end();) {
        if (it->second > synced_sequence_) {
          ++it;
          continue;
        }
        pending_.erase(it->first);
        it = pending_sequence_.erase(it);
      }
    }
    ChangeMap changes;
    HSM_STORAGE_RETURN_IF_ERROR(ReadLayered(&changes, body));
    if (changes.empty()) return absl::OkStatus();
    JournalRecord record;
    record.sequence = next_sequence_ + 1;
    for (const auto& [key, value] : changes) {
      record.changes.push_back(JournalChange{database_names_[key.first], key.second, value});
    }
    Journal::AppendRecord(record, &encoded);
    if (encoded.size() > journal_->file_size() / 4) {
      // Too big for the journal (a whole token destroyed): straight into
      // LMDB, after everything journaled before it.
      HSM_STORAGE_RETURN_IF_ERROR(WaitSynced(next_sequence_));
      HSM_STORAGE_RETURN_IF_ERROR(Flush());
      return ApplyToLmdb(changes, std::nullopt);
    }
    absl::StatusOr<Journal::Slot> reserved = Reserve(encoded.size(), record.sequence);
    if (!reserved.ok()) return reserved.status();
    slot = *reserved;
    sequence = ++next_sequence_;
    for (const auto& [key, value] : changes) {
      pending_[key] = value;
      pending_sequence_[key] = sequence;
    }
    std::lock_guard<std::mutex> sync_lock(sync_mutex_);
    in_flight_.emplace(sequence, InFlight{std::move(changes)});
  }
  // Outside every lock: the writes of other threads go to the disk with this one.
  return Complete(sequence, journal_->Write(slot, encoded));
}

absl::StatusOr<Journal::Slot> LmdbEnv::Reserve(size_t bytes, uint64_t sequence) {
  for (;;) {
    {
      std::lock_guard<std::mutex> journal_lock(journal_mutex_);
      std::optional<Journal::Slot> slot = journal_->Reserve(bytes);
      if (slot.has_value()) {
        last_reserved_ = sequence;
        // Past half the file: flush now, in the background, so that no
        // writer finds the file full and has to wait for a flush.
        if (slot->offset < journal_->file_size() / 2 && slot->offset + bytes >= journal_->file_size() / 2) {
          {
            std::lock_guard<std::mutex> flusher_lock(flusher_mutex_);
            flush_wanted_ = true;
          }
          flusher_wake_.notify_one();
        }
        return *slot;
      }
    }
    // The file is full: once LMDB has everything in it, the other file is free.
    HSM_STORAGE_RETURN_IF_ERROR(Flush());
  }
}

absl::Status LmdbEnv::Complete(uint64_t sequence, const absl::Status& written) {
  std::unique_lock<std::mutex> lock(sync_mutex_);
  if (written.ok()) {
    in_flight_[sequence].written = true;
    PublishWritten();
    synced_.notify_all();
  } else {
    // A later record may be on disk, but a replay stops at this one: what
    // the disk has is no longer what was acknowledged.
    BreakLocked(written);
  }
  return WaitSyncedLocked(lock, sequence);
}

void LmdbEnv::BreakLocked(const absl::Status& why) {
  if (!broken_) {
    broken_reason_ = why.ToString();
    broken_ = true;
  }
  synced_.notify_all();
}

void LmdbEnv::PublishWritten() {
  auto next = in_flight_.begin();
  if (next == in_flight_.end() || next->first != synced_sequence_ + 1 || !next->second.written) return;
  std::unique_lock<std::shared_mutex> layers_lock(layers_mutex_);
  while (next != in_flight_.end() && next->first == synced_sequence_ + 1 && next->second.written) {
    for (auto& [key, value] : next->second.changes) visible_[key] = std::move(value);
    visible_sequence_ = synced_sequence_ = next->first;
    next = in_flight_.erase(next);
  }
}

absl::Status LmdbEnv::WaitSynced(uint64_t sequence) {
  std::unique_lock<std::mutex> lock(sync_mutex_);
  return WaitSyncedLocked(lock, sequence);
}

absl::Status LmdbEnv::WaitSyncedLocked(std::unique_lock<std::mutex>& lock, uint64_t sequence) {
  synced_.wait(lock, [&] { return synced_sequence_ >= sequence || broken_; });
  return synced_sequence_ >= sequence ? absl::OkStatus() : Broken();
}

absl::Status LmdbEnv::Flush() {
  if (journal_ == nullptr) return absl::OkStatus();
  std::lock_guard<std::mutex> flush_lock(flush_mutex_);
  if (broken_) return Broken();
  if (!lmdb_behind_) {
    uint64_t last_in_file;
    {
      std::lock_guard<std::mutex> journal_lock(journal_mutex_);
      // Later records go to the other file, from its start: LMDB has every
      // record in it (the previous flush applied them).
      last_in_file = last_reserved_;
      journal_->SwitchFiles();
    }
    // The records of the file just left may still be on their way to disk;
    // LMDB must get all of them now, since the next flush switches back.
    HSM_STORAGE_RETURN_IF_ERROR(WaitSynced(last_in_file));
  }
  // Behind, the current file is the one switched to when the failed flush
  // began, so the other one's records are all in flushing_ already.
  uint64_t applied;
  {
    std::unique_lock<std::shared_mutex> layers_lock(layers_mutex_);
    if (visible_.empty() && flushing_.empty()) return absl::OkStatus();  // LMDB has everything already
    if (flushing_.empty()) {
      flushing_.swap(visible_);
    } else {  // a retry: the failed flush's changes, with the newer ones over them
      for (auto& [key, value] : visible_) flushing_[key] = std::move(value);
      visible_.clear();
    }
    applied = visible_sequence_;
  }
  absl::Status status = ApplyToLmdb(flushing_, applied);
  if (!status.ok()) {
    // flushing_ stays readable, and the journal keeps its records: no file
    // switch until a retry succeeds. Writes go on until the current file is full.
    if (!lmdb_behind_ && on_lmdb_behind_) on_lmdb_behind_(status);
    lmdb_behind_ = true;
    return status;
  }
  {
    std::unique_lock<std::shared_mutex> layers_lock(layers_mutex_);
    flushing_.clear();
  }
  if (lmdb_behind_ && on_lmdb_behind_) on_lmdb_behind_(absl::OkStatus());
  lmdb_behind_ = false;
  return absl::OkStatus();
}

absl::Status LmdbEnv::ApplyToLmdb(const ChangeMap& changes, std::optional<uint64_t> applied) {
  return WriteDirect([&](Txn& txn) -> absl::Status {
    for (const auto& [key, value] : changes) {
      HSM_STORAGE_RETURN_IF_ERROR(value ? txn.Put(key.first, key.second, *value) : txn.Delete(key.first, key.second));
    }
    if (applied.has_value()) return txn.Put(journal_db_, kAppliedKey, Le64(*applied));
    return absl::OkStatus();
  });
}

void LmdbEnv::RunFlusher(absl::Duration interval) {
  std::unique_lock<std::mutex> lock(flusher_mutex_);
  while (!flusher_stop_) {
    flusher_wake_.wait_for(lock, absl::ToChronoNanoseconds(interval),
                           [this] { return flusher_stop_ || flush_wanted_; });
    if (flusher_stop_) break;
    flush_wanted_ = false;
    lock.unlock();
    // A failure is retried at the next interval; writes go on into the
    // journal meanwhile, and reads are unaffected.
    Flush().IgnoreError();
    lock.lock();
  }
}

absl::Status LmdbEnv::WriteDirect(const std::function<absl::Status(Txn&)>& body) {
  for (;;) {
    absl::Status status;
    bool map_full = false;
    int failed_rc = 0;
    {
      std::shared_lock<std::shared_mutex> lock(resize_mutex_);
      MDB_txn* raw = nullptr;
      int rc = mdb_txn_begin(env_, nullptr, 0, &raw);
      if (rc != 0) return NotedIfNoRoom(LmdbError(rc, "begin write"), rc);
      Txn txn(raw);
      status = body(txn);
      if (status.ok()) status = txn.Commit();
      map_full = txn.map_full_;
      failed_rc = txn.failed_rc_;
    }
    if (!map_full) return status.ok() ? status : NotedIfNoRoom(status, failed_rc);
    absl::Status grown = Grow();
    if (!grown.ok()) return grown;
  }
}

absl::Status LmdbEnv::CopyTo(const std::string& dir) {
  HSM_STORAGE_RETURN_IF_ERROR(Flush());  // the copy has every acknowledged write
  std::shared_lock<std::shared_mutex> lock(resize_mutex_);
  int rc = mdb_env_copy2(env_, dir.c_str(), MDB_CP_COMPACT);
  return rc == 0 ? absl::OkStatus() : LmdbError(rc, absl::StrCat("copy to ", dir));
}

absl::Status LmdbEnv::NotedIfNoRoom(const absl::Status& failed, int rc) const {
  // LMDB reports a write the disk took only part of as EIO; the disk being
  // (nearly) full, or data.mdb at the file size limit, says that was why.
  if (!IsNoRoomError(rc) && rc != EIO) return failed;
  constexpr uint64_t kNearlyFull = uint64_t{1} << 20;
  std::string why;
  struct statvfs disk;
  struct rlimit limit;
  struct stat data;
  if (statvfs(dir_.c_str(), &disk) == 0 && uint64_t{disk.f_bavail} * disk.f_frsize < kNearlyFull) {
    why = absl::StrCat("the disk holding ", dir_, " has ", uint64_t{disk.f_bavail} * disk.f_frsize,
                       " bytes free");
  } else if (getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
             stat((dir_ + "/data.mdb").c_str(), &data) == 0 &&
             static_cast<uint64_t>(data.st_size) + kNearlyFull > limit.rlim_cur) {
    why = absl::StrCat(dir_, "/data.mdb is at the file size limit (ulimit -f) of ", limit.rlim_cur, " bytes");
  } else if (rc != EIO) {
    why = absl::StrCat("no room in ", dir_);
  } else {
    return failed;
  }
  return absl::ResourceExhaustedError(absl::StrCat(failed.message(), " (", why, ")"));
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
