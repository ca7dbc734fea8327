// StateStore: udmd's durable state in <state-dir>/udm.db: every volume with
// its live and inactive tables, and the event log. Each mutation is one
// SQLite transaction (WAL, synchronous=FULL), durable before it returns.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "udm/error.h"

namespace udm::daemon {

class LockFile;
class SqliteDb;

struct VolumeRecord {
  std::string name;
  std::string uuid;                 // "" = none
  bool read_only = false;
  std::string barrier_mode = "flush";  // "flush" or "ordered"
  std::string created_at;           // ISO-8601 UTC ms; "" = now, filled by CreateVolume
  std::optional<std::string> live_table;      // dmsetup table text
  std::optional<std::string> inactive_table;  // loaded, not yet resumed
};

struct EventRecord {
  std::string time;    // ISO-8601 UTC ms, e.g. 2024-05-01T12:34:56.789Z
  std::string volume;  // the volume's name when it happened; "" = daemon-wide
  std::string kind;
  std::string detail;
};

// The event a mutation records in its own transaction. An empty kind or
// detail means the method's default (see each method).
struct EventNote {
  std::string kind;
  std::string detail;
};

// Thread-safe: every method may be called from any thread; calls are
// serialized by one mutex. Errors: kNotFound "volume 'x' not found",
// kAlreadyExists naming the name or uuid, kInvalidArgument for bad fields,
// kBusy when another process keeps the database locked past the 2 s busy
// timeout, kIo for a full disk, an I/O error or corruption (with SQLite's
// message). A failed call has changed nothing, so a caller that applies a
// change in memory only after the store accepted it stays consistent.
class StateStore {
 public:
  // Opens or creates the database at `path` (its directory must exist).
  // Takes an exclusive lock on `<path>.lock` for the life of the store
  // (kBusy "... is in use by another udmd (pid N)"), checks the file's
  // integrity (kIo naming the path and the damage), refuses a database
  // from a newer udm (kUnsupported), switches to WAL and applies pending
  // schema migrations.
  static Result<std::unique_ptr<StateStore>> Open(const std::string& path);
  ~StateStore();

  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  const std::string& path() const { return path_; }

  // The current time as the store writes it: 2024-05-01T12:34:56.789Z.
  static std::string NowUtc();

  // Every volume, in creation order.
  Result<std::vector<VolumeRecord>> LoadVolumes();

  // Adds a volume. Default event: "create", detail "barriers=M[ read-only][
  // uuid=U]". kAlreadyExists if the name or the uuid is taken.
  Status CreateVolume(const VolumeRecord& volume, const EventNote& event = {});

  // Replaces the live table (nullopt: none). Default event: "set-live",
  // detail the table.
  Status SetLiveTable(const std::string& name, const std::optional<std::string>& table,
                      const EventNote& event = {});

  // Replaces the inactive table. Default event: "load" with the table, or
  // "clear" for nullopt.
  Status SetInactiveTable(const std::string& name, const std::optional<std::string>& table,
                          const EventNote& event = {});

  // The inactive table becomes live and the inactive slot empty. Default
  // event: "swap", detail the new live table. kInvalidArgument if there is
  // no inactive table.
  Status SwapTables(const std::string& name, const EventNote& event = {});

  // kNotFound if `from` does not exist, kAlreadyExists if `to` does. The
  // default event "rename", detail "to 'NEW'", is filed under the old name.
  Status RenameVolume(const std::string& from, const std::string& to,
                      const EventNote& event = {});

  // Removes the volume; its events stay. Default event: "remove".
  Status RemoveVolume(const std::string& name, const EventNote& event = {});

  // Records an event for an existing volume, or a daemon-wide one for "".
  Status AddEvent(const std::string& volume, const std::string& kind,
                  const std::string& detail);

  // The newest `limit` events, oldest first, of the volume: those recorded
  // under the name `volume` (also of removed or renamed volumes) and all of
  // the volume now called `volume` (also under its earlier names). ""
  // returns the whole log. An unknown name gives an empty list.
  Result<std::vector<EventRecord>> Events(const std::string& volume, size_t limit);

  // Runs `body` as one transaction: the methods it calls on this store join
  // it, and it commits only if `body` and the commit succeed; otherwise
  // everything rolls back and the first error is returned. `body` runs on
  // the calling thread with the store locked: it must not wait for another
  // thread that uses this store.
  Status Transaction(const std::function<Status()>& body);

 private:
  StateStore(std::string path, std::unique_ptr<LockFile> lock, std::unique_ptr<SqliteDb> db);

  // Runs `body` in a transaction, or in a savepoint inside an enclosing
  // one. `what` names the operation in error messages.
  Status Write(std::string_view what, const std::function<Status()>& body);
  // The id of the volume called `name`: kNotFound, or 0 with `must_exist`
  // false.
  Result<int64_t> VolumeId(const std::string& name, bool must_exist);
  // Appends an event; volume_id 0 means none.
  Status Record(int64_t volume_id, const std::string& volume, const std::string& kind,
                const std::string& detail);
  // Sets the live (`live`) or the inactive table of `name`.
  Status UpdateTable(const std::string& name, bool live, const std::optional<std::string>& table,
                     const EventNote& event, const std::string& default_kind);

  const std::string path_;
  const std::unique_ptr<LockFile> lock_;  // held until after db_ is closed

  // Recursive so that Transaction() bodies can call the other methods.
  // Lock order: a leaf; nothing else is locked while it is held.
  std::recursive_mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // guarded by mu_
  int depth_ = 0;                 // guarded by mu_: Write() nesting
};

}  // namespace udm::daemon
