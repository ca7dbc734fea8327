// StateStore: opening (lock, integrity, WAL, migrations) and the volume and
// event operations, each one transaction on the cached statements below.
#include "state/state_store.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>

#include "state/lock_file.h"
#include "state/migrations.h"
#include "state/sqlite_db.h"

namespace udm::daemon {
namespace {

constexpr std::string_view kSelectVolumes =
    "SELECT name, uuid, read_only, barrier_mode, created_at, live_table, inactive_table "
    "FROM volumes ORDER BY id";
constexpr std::string_view kSelectVolumeId = "SELECT id FROM volumes WHERE name = ?1";
constexpr std::string_view kSelectUuidOwner = "SELECT name FROM volumes WHERE uuid = ?1";
constexpr std::string_view kInsertVolume =
    "INSERT INTO volumes (name, uuid, read_only, barrier_mode, created_at, live_table, "
    "inactive_table) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr std::string_view kSelectInactive = "SELECT inactive_table FROM volumes WHERE id = ?1";
constexpr std::string_view kSetLiveTable = "UPDATE volumes SET live_table = ?2 WHERE id = ?1";
constexpr std::string_view kSetInactiveTable =
    "UPDATE volumes SET inactive_table = ?2 WHERE id = ?1";
constexpr std::string_view kSwapTables =
    "UPDATE volumes SET live_table = inactive_table, inactive_table = NULL WHERE id = ?1";
constexpr std::string_view kRenameVolume = "UPDATE volumes SET name = ?2 WHERE id = ?1";
constexpr std::string_view kDeleteVolume = "DELETE FROM volumes WHERE id = ?1";
constexpr std::string_view kInsertEvent =
    "INSERT INTO events (volume_id, volume_name, time, kind, detail) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr std::string_view kSelectVolumeEvents =
    "SELECT time, volume_name, kind, detail FROM ("
    "  SELECT id, time, volume_name, kind, detail FROM events"
    "  WHERE volume_name = ?1 OR volume_id = (SELECT id FROM volumes WHERE name = ?1)"
    "  ORDER BY id DESC LIMIT ?2) "
    "ORDER BY id";
constexpr std::string_view kSelectAllEvents =
    "SELECT time, volume_name, kind, detail FROM ("
    "  SELECT id, time, volume_name, kind, detail FROM events ORDER BY id DESC LIMIT ?1) "
    "ORDER BY id";

// Refuses a damaged file before anything writes to it: PRAGMA quick_check
// reports damage as rows, and a file that is not a database as an error.
Status CheckIntegrity(SqliteDb& db) {
  auto stmt = db.Prepare("PRAGMA quick_check(5)", "check integrity");
  if (!stmt) return std::unexpected(stmt.error());
  std::string problems;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    std::string line = stmt->Text(0);
    if (line == "ok") return {};
    // SQLite may put several findings in one row, a line each.
    for (char c : line) {
      if (c == '\n') {
        problems += "; ";
      } else {
        problems += c;
      }
    }
    problems += "; ";
  }
  return Fail(ErrorCode::kIo, EIO,
              "state database {} is corrupt ({}); udmd left it untouched: move it aside and "
              "restore a backup",
              db.path(),
              problems.empty() ? "integrity check gave no result"
                               : problems.substr(0, problems.size() - 2));
}

// WAL with synchronous=FULL: a commit is on stable storage when it returns
// (kill -9 and power loss), and readers never block the writer.
Status ConfigureConnection(SqliteDb& db) {
  auto stmt = db.Prepare("PRAGMA journal_mode = WAL", "switch to WAL journal mode");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  std::string mode = *row ? stmt->Text(0) : "";
  if (mode != "wal") {
    return Fail(ErrorCode::kUnsupported, EOPNOTSUPP,
                "state database {}: SQLite refused WAL journal mode (kept '{}'); put the state "
                "directory on a local filesystem",
                db.path(), mode);
  }
  return db.Exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", "configure connection");
}

std::string Or(const std::string& value, std::string fallback) {
  return value.empty() ? std::move(fallback) : value;
}

}  // namespace

// ---- Opening ----

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& path) {
  auto lock = LockFile::Acquire(path + ".lock", fmt::format("state database {}", path));
  if (!lock) return std::unexpected(lock.error());
  // The tables name every backing file: keep the database (and the -wal
  // and -shm files SQLite creates with the same mode) private to the user.
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return SysError(errno, fmt::format("state database {}: open", path));
  close(fd);
  auto db = SqliteDb::Open(path);
  if (!db) return std::unexpected(db.error());
  if (auto st = CheckIntegrity(**db); !st) return std::unexpected(st.error());
  // Refuse a newer schema before this udm changes anything in the file.
  auto version = SchemaVersion(**db);
  if (!version) return std::unexpected(version.error());
  if (auto st = CheckSchemaNotNewer(**db, *version); !st) return std::unexpected(st.error());
  if (auto st = ConfigureConnection(**db); !st) return std::unexpected(st.error());
  if (auto st = Migrate(**db); !st) return std::unexpected(st.error());
  return std::unique_ptr<StateStore>(new StateStore(path, std::move(*lock), std::move(*db)));
}

StateStore::StateStore(std::string path, std::unique_ptr<LockFile> lock,
                       std::unique_ptr<SqliteDb> db)
    : path_(std::move(path)), lock_(std::move(lock)), db_(std::move(db)) {}

StateStore::~StateStore() {
  std::lock_guard lock(mu_);
  db_.reset();  // closes (and checkpoints) before lock_ is released
}

std::string StateStore::NowUtc() {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  int64_t ms = duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                   .count();
  time_t seconds = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

// ---- Transactions ----

Status StateStore::Write(std::string_view what, const std::function<Status()>& body) {
  std::lock_guard lock(mu_);
  const bool outermost = depth_ == 0;
  // IMMEDIATE takes the write lock up front, so a busy database fails here
  // (after the busy timeout) instead of half-way through.
  auto begin = db_->Exec(outermost ? "BEGIN IMMEDIATE" : "SAVEPOINT nested", what);
  if (!begin) return begin;
  ++depth_;
  Status status = body();
  --depth_;
  if (status && !db_->InTransaction()) {
    // SQLite ends a transaction on its own after some errors (disk full);
    // a body that ignored such an error must not report success.
    return Fail(ErrorCode::kIo, EIO, "state database {}: {}: the transaction was rolled back "
                "after an earlier error", path_, what);
  }
  if (status) {
    status = db_->Exec(outermost ? "COMMIT" : "RELEASE nested", what);
    if (status) return status;
  }
  if (db_->InTransaction()) {
    (void)db_->Exec(outermost ? "ROLLBACK" : "ROLLBACK TO nested; RELEASE nested", what);
  }
  return status;
}

Status StateStore::Transaction(const std::function<Status()>& body) {
  return Write("transaction", body);
}

Result<int64_t> StateStore::VolumeId(const std::string& name, bool must_exist) {
  auto stmt = db_->Prepare(kSelectVolumeId, fmt::format("look up volume '{}'", name));
  if (!stmt) return std::unexpected(stmt.error());
  stmt->Bind(1, name);
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  if (*row) return stmt->Int(0);
  if (must_exist) return Fail(ErrorCode::kNotFound, ENOENT, "volume '{}' not found", name);
  return 0;
}

Status StateStore::Record(int64_t volume_id, const std::string& volume, const std::string& kind,
                          const std::string& detail) {
  auto stmt = db_->Prepare(kInsertEvent, fmt::format("record event '{}' of '{}'", kind, volume));
  if (!stmt) return std::unexpected(stmt.error());
  if (volume_id != 0) stmt->Bind(1, volume_id);  // unbound: NULL
  stmt->Bind(2, volume).Bind(3, NowUtc()).Bind(4, kind).Bind(5, detail);
  return stmt->Run();
}

// ---- Volumes ----

Result<std::vector<VolumeRecord>> StateStore::LoadVolumes() {
  std::lock_guard lock(mu_);
  auto stmt = db_->Prepare(kSelectVolumes, "load volumes");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<VolumeRecord> volumes;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return volumes;
    VolumeRecord& v = volumes.emplace_back();
    v.name = stmt->Text(0);
    v.uuid = stmt->Text(1);
    v.read_only = stmt->Int(2) != 0;
    v.barrier_mode = stmt->Text(3);
    v.created_at = stmt->Text(4);
    v.live_table = stmt->OptionalText(5);
    v.inactive_table = stmt->OptionalText(6);
  }
}

Status StateStore::CreateVolume(const VolumeRecord& volume, const EventNote& event) {
  if (volume.name.empty()) return InvalidArgument("volume name must not be empty");
  const std::string mode = volume.barrier_mode.empty() ? "flush" : volume.barrier_mode;
  if (mode != "flush" && mode != "ordered") {
    return InvalidArgument("volume '{}': barrier mode '{}' is neither 'flush' nor 'ordered'",
                           volume.name, mode);
  }
  const std::string what = fmt::format("create volume '{}'", volume.name);
  return Write(what, [&]() -> Status {
    auto existing = VolumeId(volume.name, false);
    if (!existing) return std::unexpected(existing.error());
    if (*existing != 0) {
      return Fail(ErrorCode::kAlreadyExists, EEXIST, "volume '{}' already exists", volume.name);
    }
    if (!volume.uuid.empty()) {
      auto owner = db_->Prepare(kSelectUuidOwner, what);
      if (!owner) return std::unexpected(owner.error());
      owner->Bind(1, volume.uuid);
      auto row = owner->Step();
      if (!row) return std::unexpected(row.error());
      if (*row) {
        return Fail(ErrorCode::kAlreadyExists, EEXIST, "uuid '{}' is already used by volume '{}'",
                    volume.uuid, owner->Text(0));
      }
    }
    auto insert = db_->Prepare(kInsertVolume, what);
    if (!insert) return std::unexpected(insert.error());
    std::optional<std::string> uuid;
    if (!volume.uuid.empty()) uuid = volume.uuid;
    insert->Bind(1, volume.name).BindOptional(2, uuid).Bind(3, int64_t{volume.read_only});
    insert->Bind(4, mode).Bind(5, volume.created_at.empty() ? NowUtc() : volume.created_at);
    insert->BindOptional(6, volume.live_table).BindOptional(7, volume.inactive_table);
    if (auto st = insert->Run(); !st) return st;
    std::string detail = fmt::format("barriers={}{}{}", mode, volume.read_only ? " read-only" : "",
                                     uuid ? " uuid=" + *uuid : "");
    return Record(db_->LastInsertRowid(), volume.name, Or(event.kind, "create"),
                  Or(event.detail, detail));
  });
}

Status StateStore::UpdateTable(const std::string& name, bool live,
                               const std::optional<std::string>& table, const EventNote& event,
                               const std::string& default_kind) {
  const std::string what =
      fmt::format("set {} table of volume '{}'", live ? "live" : "inactive", name);
  return Write(what, [&]() -> Status {
    auto id = VolumeId(name, true);
    if (!id) return std::unexpected(id.error());
    auto update = db_->Prepare(live ? kSetLiveTable : kSetInactiveTable, what);
    if (!update) return std::unexpected(update.error());
    update->Bind(1, *id).BindOptional(2, table);
    if (auto st = update->Run(); !st) return st;
    return Record(*id, name, Or(event.kind, default_kind), Or(event.detail, table.value_or("")));
  });
}

Status StateStore::SetLiveTable(const std::string& name, const std::optional<std::string>& table,
                                const EventNote& event) {
  return UpdateTable(name, true, table, event, "set-live");
}

Status StateStore::SetInactiveTable(const std::string& name,
                                    const std::optional<std::string>& table,
                                    const EventNote& event) {
  return UpdateTable(name, false, table, event, table ? "load" : "clear");
}

Status StateStore::SwapTables(const std::string& name, const EventNote& event) {
  const std::string what = fmt::format("swap tables of volume '{}'", name);
  return Write(what, [&]() -> Status {
    auto id = VolumeId(name, true);
    if (!id) return std::unexpected(id.error());
    std::optional<std::string> inactive;
    {
      auto select = db_->Prepare(kSelectInactive, what);
      if (!select) return std::unexpected(select.error());
      select->Bind(1, *id);
      auto row = select->Step();
      if (!row) return std::unexpected(row.error());
      if (*row) inactive = select->OptionalText(0);
    }
    if (!inactive) return InvalidArgument("volume '{}' has no inactive table to swap in", name);
    auto swap = db_->Prepare(kSwapTables, what);
    if (!swap) return std::unexpected(swap.error());
    swap->Bind(1, *id);
    if (auto st = swap->Run(); !st) return st;
    return Record(*id, name, Or(event.kind, "swap"), Or(event.detail, *inactive));
  });
}

Status StateStore::RenameVolume(const std::string& from, const std::string& to,
                                const EventNote& event) {
  if (to.empty()) return InvalidArgument("cannot rename volume '{}' to an empty name", from);
  const std::string what = fmt::format("rename volume '{}' to '{}'", from, to);
  return Write(what, [&]() -> Status {
    auto id = VolumeId(from, true);
    if (!id) return std::unexpected(id.error());
    auto taken = VolumeId(to, false);
    if (!taken) return std::unexpected(taken.error());
    if (*taken != 0) {
      return Fail(ErrorCode::kAlreadyExists, EEXIST, "volume '{}' already exists", to);
    }
    auto rename = db_->Prepare(kRenameVolume, what);
    if (!rename) return std::unexpected(rename.error());
    rename->Bind(1, *id).Bind(2, to);
    if (auto st = rename->Run(); !st) return st;
    return Record(*id, from, Or(event.kind, "rename"),
                  Or(event.detail, fmt::format("to '{}'", to)));
  });
}

Status StateStore::RemoveVolume(const std::string& name, const EventNote& event) {
  const std::string what = fmt::format("remove volume '{}'", name);
  return Write(what, [&]() -> Status {
    auto id = VolumeId(name, true);
    if (!id) return std::unexpected(id.error());
    // Recorded first; deleting the row then sets the event's volume_id to
    // NULL, and its volume_name keeps the history findable.
    if (auto st = Record(*id, name, Or(event.kind, "remove"), event.detail); !st) return st;
    auto remove = db_->Prepare(kDeleteVolume, what);
    if (!remove) return std::unexpected(remove.error());
    remove->Bind(1, *id);
    return remove->Run();
  });
}

// ---- Events ----

Status StateStore::AddEvent(const std::string& volume, const std::string& kind,
                            const std::string& detail) {
  if (kind.empty()) return InvalidArgument("event of '{}': kind must not be empty", volume);
  return Write(fmt::format("record event '{}' of '{}'", kind, volume), [&]() -> Status {
    int64_t id = 0;
    if (!volume.empty()) {
      auto found = VolumeId(volume, true);
      if (!found) return std::unexpected(found.error());
      id = *found;
    }
    return Record(id, volume, kind, detail);
  });
}

Result<std::vector<EventRecord>> StateStore::Events(const std::string& volume, size_t limit) {
  std::lock_guard lock(mu_);
  const int64_t bounded = static_cast<int64_t>(
      std::min<uint64_t>(limit, static_cast<uint64_t>(std::numeric_limits<int64_t>::max())));
  const std::string what = fmt::format("read events of '{}'", volume);
  auto stmt = db_->Prepare(volume.empty() ? kSelectAllEvents : kSelectVolumeEvents, what);
  if (!stmt) return std::unexpected(stmt.error());
  if (volume.empty()) {
    stmt->Bind(1, bounded);
  } else {
    stmt->Bind(1, volume).Bind(2, bounded);
  }
  std::vector<EventRecord> events;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return events;
    events.push_back({stmt->Text(0), stmt->Text(1), stmt->Text(2), stmt->Text(3)});
  }
}

}  // namespace udm::daemon
