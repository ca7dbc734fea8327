// Schema migrations: the numbered files schema/NNNN_name.sql, embedded at
// build time by embed_schema.cmake, and the code that brings a database's
// schema (PRAGMA user_version) up to the newest one.
#pragma once

#include <span>
#include <string_view>

#include "udm/error.h"

namespace udm::daemon {

class SqliteDb;

struct Migration {
  int version;             // NNNN of the file name; user_version once applied
  std::string_view name;   // the file name's `name` part
  std::string_view sql;    // the file's statements; no BEGIN/COMMIT of their own
};

// Every embedded migration, versions 1, 2, ... N in order (checked at build
// time). Static storage.
std::span<const Migration> EmbeddedMigrations();

// N: the schema version this build writes.
int NewestSchemaVersion();

// The database's PRAGMA user_version (0 for a new, empty file).
Result<int> SchemaVersion(SqliteDb& db);

// kUnsupported if `version` is newer than this build knows ("... was
// written by a newer udm (schema 7, this udm knows 1)"), else success.
Status CheckSchemaNotNewer(const SqliteDb& db, int version);

// Applies every migration newer than the database's user_version, each in
// its own write transaction together with `PRAGMA user_version = NNNN`; a
// failed migration rolls back and leaves the earlier ones applied. A newer
// database is refused and left untouched. Always takes the write lock once,
// so a database another process keeps locked fails here with kBusy.
Status Migrate(SqliteDb& db);

}  // namespace udm::daemon
