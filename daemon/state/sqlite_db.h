// SqliteDb: one SQLite connection with cached prepared statements, and
// SQLite result codes translated into udm::Error naming the database file.
// Not thread-safe: the owner serializes every call (StateStore's mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "udm/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace udm::daemon {

class SqliteDb;

// A cached statement in use: bind, step, read columns. It is reset and its
// bindings cleared when destroyed, so no read transaction outlives it. It
// borrows the SqliteDb, which must outlive it.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Parameters are numbered from 1. Text is copied; nullopt binds NULL.
  Statement& Bind(int index, std::string_view text);
  Statement& BindOptional(int index, const std::optional<std::string>& text);
  Statement& Bind(int index, int64_t value);

  // Advances to the next row: true if there is one, false when done. Any
  // SQLite error (including a failed Bind) comes back as an Error.
  Result<bool> Step();
  // Steps until done, for statements without result rows.
  Status Run();

  // Columns of the current row, numbered from 0. NULL reads as 0 / "".
  int64_t Int(int column) const;
  std::string Text(int column) const;
  std::optional<std::string> OptionalText(int column) const;

 private:
  friend class SqliteDb;
  Statement(SqliteDb* db, sqlite3_stmt* stmt, std::string_view what);

  SqliteDb* db_;
  sqlite3_stmt* stmt_;
  std::string what_;  // what the statement is for, for error messages
  int bind_rc_ = 0;   // first failed bind, reported by Step()
};

class SqliteDb {
 public:
  static constexpr int kBusyTimeoutMs = 2000;

  // Opens or creates `path` read-write with extended result codes and a
  // busy timeout of kBusyTimeoutMs. Reads nothing yet.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();  // finalizes cached statements, then closes

  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  const std::string& path() const { return path_; }
  // True while a transaction is open (SQLite may end one on its own after
  // SQLITE_FULL or an I/O error).
  bool InTransaction() const;
  int64_t LastInsertRowid() const;

  // Runs `sql` (one or more statements, no results). `what` says what it
  // is for in an error message.
  Status Exec(const std::string& sql, std::string_view what);
  // Returns the statement for `sql`, prepared once and cached for the life
  // of this object.
  Result<Statement> Prepare(std::string_view sql, std::string_view what);

  // The Error for SQLite result code `rc` from the last call on this
  // connection: "state database <path>: <what>: <sqlite message>".
  Error ErrorFor(int rc, std::string_view what) const;

 private:
  SqliteDb(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}

  const std::string path_;
  sqlite3* db_;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;
};

}  // namespace udm::daemon
