// Applying the embedded schema migrations: one write transaction per
// migration, each ending with PRAGMA user_version = NNNN.
#include "state/migrations.h"

#include "state/sqlite_db.h"

namespace udm::daemon {
namespace {

// Runs one migration transaction: either brings the schema one version
// forward, or finds nothing to do. Returns the version it found.
Result<int> MigrateOneStep(SqliteDb& db) {
  // IMMEDIATE: take the write lock before reading user_version, so the
  // version read and the migration applied belong to one transaction.
  if (auto st = db.Exec("BEGIN IMMEDIATE", "begin schema migration"); !st) {
    return std::unexpected(st.error());
  }
  auto fail = [&db](Error error) -> Result<int> {
    if (db.InTransaction()) (void)db.Exec("ROLLBACK", "roll back schema migration");
    return std::unexpected(std::move(error));
  };
  auto version = SchemaVersion(db);
  if (!version) return fail(version.error());
  if (auto st = CheckSchemaNotNewer(db, *version); !st) return fail(st.error());
  if (*version < NewestSchemaVersion()) {
    const Migration& m = EmbeddedMigrations()[static_cast<size_t>(*version)];
    std::string what = fmt::format("apply schema migration {:04}_{}", m.version, m.name);
    if (auto st = db.Exec(std::string(m.sql), what); !st) return fail(st.error());
    if (auto st = db.Exec(fmt::format("PRAGMA user_version = {}", m.version), what); !st) {
      return fail(st.error());
    }
  }
  if (auto st = db.Exec("COMMIT", "commit schema migration"); !st) return fail(st.error());
  return *version;
}

}  // namespace

int NewestSchemaVersion() { return static_cast<int>(EmbeddedMigrations().size()); }

Result<int> SchemaVersion(SqliteDb& db) {
  auto stmt = db.Prepare("PRAGMA user_version", "read schema version");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) {
    return Fail(ErrorCode::kIo, EIO, "state database {}: read schema version: no result",
                db.path());
  }
  return static_cast<int>(stmt->Int(0));
}

Status CheckSchemaNotNewer(const SqliteDb& db, int version) {
  if (version < 0) {
    return Fail(ErrorCode::kIo, EIO, "state database {} has an invalid schema version {}",
                db.path(), version);
  }
  if (version > NewestSchemaVersion()) {
    return Fail(ErrorCode::kUnsupported, EPROTO,
                "state database {} was written by a newer udm (schema {}, this udm knows {}); "
                "upgrade udm or point --state-dir elsewhere",
                db.path(), version, NewestSchemaVersion());
  }
  return {};
}

Status Migrate(SqliteDb& db) {
  for (;;) {
    auto version = MigrateOneStep(db);
    if (!version) return std::unexpected(version.error());
    if (*version >= NewestSchemaVersion()) return {};
  }
}

}  // namespace udm::daemon
