// The value types the dashboard draws: one volume's state in a watch
// snapshot, checked and converted from the protocol's JSON (docs/protocol.md),
// and the rates derived from two consecutive samples.
#pragma once

#include <cstdint>
#include <expected>

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

namespace udm::gui {

struct BarrierSample {
  qint64 id = 0;
  bool ordered = false;  // an ordered barrier, else a plain flush
  QString phase;         // queued, waiting-for-earlier-io, pre-flush, payload, post-flush
  qint64 age_us = 0;
};

struct LatencySample {
  qint64 count = 0, p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0;
};

struct VolumeSample {
  QString name, uuid, state, barriers, path;
  bool read_only = false, live_table = false, inactive_table = false;
  qint64 sectors = 0, open_count = 0, event_nr = 0, num_targets = 0;
  qint64 reads = 0, writes = 0, flushes = 0, barrier_count = 0, discards = 0, write_zeroes = 0;
  qint64 read_bytes = 0, write_bytes = 0, errors = 0, requeues = 0;
  qint64 in_flight = 0, deferred = 0;
  LatencySample latency;
  QList<BarrierSample> inflight_barriers;  // sorted by id
  QStringList status;                      // each live target's status line
};

struct Snapshot {
  qint64 time_ms = 0;  // daemon clock, ms since the epoch
  QList<VolumeSample> volumes;
};

// Per-second rates between two samples of one volume.
struct Rates {
  double read_iops = 0, write_iops = 0, read_mbs = 0, write_mbs = 0;
  double iops() const { return read_iops + write_iops; }
  double mbs() const { return read_mbs + write_mbs; }
  bool operator==(const Rates&) const = default;
};

// Zero when time did not advance or a counter went backwards (the daemon
// restarted and its counters began again).
Rates RatesBetween(const VolumeSample& prev, qint64 prev_ms, const VolumeSample& cur,
                   qint64 cur_ms);

// Parses the "snapshot" object of a watch frame. A frame whose structure is
// wrong (no volumes array, a volume without a name, a field of the wrong
// type) is refused whole with a message naming the field.
std::expected<Snapshot, QString> ParseSnapshot(const QJsonObject& snapshot);

// The tables present, as udmsetup info prints them: "LIVE", "INACTIVE",
// "LIVE & INACTIVE" or "NONE".
QString TablesText(const VolumeSample& v);

}  // namespace udm::gui
