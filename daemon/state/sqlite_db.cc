// SqliteDb: the SQLite connection, its statement cache, and the one place
// where SQLite result codes become udm::Error values.
#include "state/sqlite_db.h"

#include <sqlite3.h>

#include <cerrno>
#include <cstring>
#include <limits>

namespace udm::daemon {
namespace {

struct Mapped {
  ErrorCode code;
  int sys_errno;
  const char* hint;  // appended to SQLite's message, or ""
};

Mapped MapResultCode(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return {ErrorCode::kBusy, EBUSY, ""};  // ErrorFor() adds the timeout
    case SQLITE_FULL: return {ErrorCode::kIo, ENOSPC, ""};
    case SQLITE_IOERR: return {ErrorCode::kIo, EIO, ""};
    case SQLITE_CANTOPEN: return {ErrorCode::kIo, EIO, ""};
    case SQLITE_NOTADB:
      return {ErrorCode::kIo, EIO, " (not a SQLite database, or its header is damaged)"};
    case SQLITE_CORRUPT: return {ErrorCode::kIo, EIO, " (the database file is corrupt)"};
    case SQLITE_READONLY: return {ErrorCode::kIo, EROFS, ""};
    case SQLITE_PERM:
    case SQLITE_AUTH: return {ErrorCode::kIo, EACCES, ""};
    case SQLITE_NOMEM: return {ErrorCode::kIo, ENOMEM, ""};
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return {ErrorCode::kAlreadyExists, EEXIST, ""};
      }
      return {ErrorCode::kInvalidArgument, EINVAL, ""};
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH: return {ErrorCode::kInvalidArgument, EINVAL, ""};
    default: return {ErrorCode::kIo, EIO, ""};
  }
}

bool IsSystemError(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL;
}

}  // namespace

// ---- Statement ----

Statement::Statement(SqliteDb* db, sqlite3_stmt* stmt, std::string_view what)
    : db_(db), stmt_(stmt), what_(what) {}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), what_(std::move(other.what_)),
      bind_rc_(other.bind_rc_) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::Bind(int index, std::string_view text) {
  // A null data pointer would bind NULL; an empty string must stay ''.
  const char* data = text.data() != nullptr ? text.data() : "";
  int rc = sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::BindOptional(int index, const std::optional<std::string>& text) {
  if (text) return Bind(index, std::string_view(*text));
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Result<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) return std::unexpected(db_->ErrorFor(bind_rc_, what_));
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return std::unexpected(db_->ErrorFor(rc, what_));
}

Status Statement::Run() {
  for (;;) {
    auto row = Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return {};
  }
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::Text(int column) const {
  auto text = OptionalText(column);
  return text ? std::move(*text) : std::string();
}

std::optional<std::string> Statement::OptionalText(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  int size = sqlite3_column_bytes(stmt_, column);
  return std::string(data != nullptr ? data : "", static_cast<size_t>(size));
}

// ---- SqliteDb ----

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (db != nullptr) sqlite3_extended_result_codes(db, 1);
  std::unique_ptr<SqliteDb> result(new SqliteDb(path, db));
  if (rc != SQLITE_OK) {
    if (db == nullptr) {
      return Fail(ErrorCode::kIo, ENOMEM, "state database {}: open: {}", path, sqlite3_errstr(rc));
    }
    return std::unexpected(result->ErrorFor(rc, "open"));
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  return result;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

bool SqliteDb::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

int64_t SqliteDb::LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }

Status SqliteDb::Exec(const std::string& sql, std::string_view what) {
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return std::unexpected(ErrorFor(rc, what));
  return {};
}

Result<Statement> SqliteDb::Prepare(std::string_view sql, std::string_view what) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    if (sql.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
      return Fail(ErrorCode::kInvalidArgument, EINVAL, "state database {}: {}: statement too long",
                  path_, what);
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return std::unexpected(ErrorFor(rc, what));
    }
    it = statements_.emplace(std::string(sql), stmt).first;
  }
  return Statement(this, it->second, what);
}

Error SqliteDb::ErrorFor(int rc, std::string_view what) const {
  Mapped mapped = MapResultCode(rc);
  // sqlite3_errmsg() describes the latest call on the connection; fall back
  // to the code's generic text if that call was a different one.
  std::string message = sqlite3_errmsg(db_);
  if ((sqlite3_extended_errcode(db_) & 0xff) != (rc & 0xff)) message = sqlite3_errstr(rc);
  int sys_errno = mapped.sys_errno;
  if (IsSystemError(rc) && sqlite3_system_errno(db_) != 0) {
    sys_errno = sqlite3_system_errno(db_);
    message += fmt::format(" ({})", std::strerror(sys_errno));
  }
  std::string hint = mapped.hint;
  if ((rc & 0xff) == SQLITE_BUSY) {
    hint = fmt::format(" (another process held a lock on it for over {} s)", kBusyTimeoutMs / 1000);
  }
  return Error{mapped.code, sys_errno,
               fmt::format("state database {}: {}: {}{}", path_, what, message, hint)};
}

}  // namespace udm::daemon
