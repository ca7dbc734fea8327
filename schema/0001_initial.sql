-- 0001_initial: the daemon's volumes with their live and inactive tables,
-- and the event log. Applied by daemon/state/migrations.cc inside one
-- transaction together with `PRAGMA user_version = 1`.

-- One row per volume. AUTOINCREMENT keeps ids increasing and never reused,
-- so ORDER BY id is creation order and an old id never names a new volume.
CREATE TABLE volumes (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  name           TEXT NOT NULL UNIQUE CHECK (length(name) > 0),
  uuid           TEXT UNIQUE CHECK (uuid IS NULL OR length(uuid) > 0),
  read_only      INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
  barrier_mode   TEXT NOT NULL DEFAULT 'flush' CHECK (barrier_mode IN ('flush', 'ordered')),
  created_at     TEXT NOT NULL,  -- ISO-8601 UTC with milliseconds: 2024-05-01T12:34:56.789Z
  live_table     TEXT,           -- dmsetup table text; NULL: no table
  inactive_table TEXT            -- loaded but not yet resumed; NULL: none
) STRICT;

-- The event log. An event keeps the volume's name at the time it happened,
-- so it outlives renames and removal; volume_id follows the volume across
-- renames while it exists. volume_name '' is a daemon-wide event.
CREATE TABLE events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  volume_id   INTEGER REFERENCES volumes (id) ON DELETE SET NULL,
  volume_name TEXT NOT NULL,
  time        TEXT NOT NULL,     -- ISO-8601 UTC with milliseconds
  kind        TEXT NOT NULL CHECK (length(kind) > 0),
  detail      TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX events_by_volume_name ON events (volume_name, id);
CREATE INDEX events_by_volume_id ON events (volume_id, id);
