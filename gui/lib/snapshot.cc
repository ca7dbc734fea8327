// Snapshot parsing: strict about structure and types, lenient about fields
// a newer or older daemon may not send (they read as zero/empty).
#include "snapshot.h"

#include <algorithm>
#include <functional>

#include <QJsonArray>

namespace udm::gui {

namespace {

// Reads fields of one JSON object, remembering the first one that is
// present with the wrong type.
class FieldReader {
 public:
  FieldReader(const QJsonObject& o, QString where) : o_(o), where_(std::move(where)) {}

  // Below 2^63, so that the conversion to qint64 is defined.
  qint64 Int(const char* key) {
    return Read<qint64>(
        key,
        [](const QJsonValue& v) {
          return v.isDouble() && v.toDouble() >= 0 && v.toDouble() < 9223372036854775808.0;
        },
        "a non-negative number below 2^63",
        // toInteger keeps integers past 2^53 exact (sector counts reach 2^54).
        [](const QJsonValue& v) { return v.toInteger(static_cast<qint64>(v.toDouble())); });
  }
  bool Bool(const char* key) {
    return Read<bool>(key, &QJsonValue::isBool, "a boolean", [](const QJsonValue& v) { return v.toBool(); });
  }
  QString String(const char* key) {
    return Read<QString>(key, &QJsonValue::isString, "a string",
                         [](const QJsonValue& v) { return v.toString(); });
  }
  QJsonArray Array(const char* key) {
    return Read<QJsonArray>(key, &QJsonValue::isArray, "an array",
                            [](const QJsonValue& v) { return v.toArray(); });
  }
  QJsonObject Object(const char* key) {
    return Read<QJsonObject>(key, &QJsonValue::isObject, "an object",
                             [](const QJsonValue& v) { return v.toObject(); });
  }
  void Bad(const char* key, const char* expected) {
    if (error_.isEmpty()) {
      error_ = QStringLiteral("%1: field '%2' is not %3").arg(where_, QLatin1String(key),
                                                              QLatin1String(expected));
    }
  }
  void Fail(QString message) {
    if (error_.isEmpty()) error_ = where_ + QStringLiteral(": ") + message;
  }
  const QString& error() const { return error_; }

 private:
  // A missing or null field reads as T{}; one of the wrong type as T{}
  // and an error.
  template <typename T, typename IsOk, typename Convert>
  T Read(const char* key, IsOk is_ok, const char* expected, Convert convert) {
    const QJsonValue v = o_.value(QLatin1String(key));
    if (v.isUndefined() || v.isNull()) return T{};
    if (!std::invoke(is_ok, v)) {
      Bad(key, expected);
      return T{};
    }
    return convert(v);
  }

  const QJsonObject& o_;
  QString where_;
  QString error_;
};

std::expected<VolumeSample, QString> ParseVolume(const QJsonObject& o, qsizetype index) {
  FieldReader f(o, QStringLiteral("volume %1").arg(index));
  VolumeSample v;
  v.name = f.String("name");
  if (v.name.isEmpty() && f.error().isEmpty()) f.Fail(QStringLiteral("no name"));
  v.uuid = f.String("uuid");
  v.state = f.String("state");
  // Before barriers_completed existed, the merged snapshot's "barriers"
  // was Stats' count and the mode was not sent.
  if (o.value(QLatin1String("barriers")).isDouble()) {
    v.barrier_count = f.Int("barriers");
  } else {
    v.barriers = f.String("barriers");
  }
  v.path = f.String("path");
  v.read_only = f.Bool("read_only");
  v.live_table = f.Bool("live_table");
  v.inactive_table = f.Bool("inactive_table");
  v.sectors = f.Int("sectors");
  v.open_count = f.Int("open_count");
  v.event_nr = f.Int("event_nr");
  v.num_targets = f.Int("num_targets");
  v.reads = f.Int("reads");
  v.writes = f.Int("writes");
  v.flushes = f.Int("flushes");
  if (o.contains(QLatin1String("barriers_completed"))) v.barrier_count = f.Int("barriers_completed");
  v.discards = f.Int("discards");
  v.write_zeroes = f.Int("write_zeroes");
  v.read_bytes = f.Int("read_bytes");
  v.write_bytes = f.Int("write_bytes");
  v.errors = f.Int("errors");
  v.requeues = f.Int("requeues");
  v.in_flight = f.Int("in_flight");
  v.deferred = f.Int("deferred");
  QJsonObject lat = f.Object("barrier_latency_us");
  FieldReader l(lat, f.error().isEmpty() ? QStringLiteral("%1 barrier_latency_us").arg(v.name)
                                         : QString());
  v.latency = {l.Int("count"), l.Int("p50"), l.Int("p90"), l.Int("p99"), l.Int("max")};
  if (!l.error().isEmpty() && f.error().isEmpty()) return std::unexpected(l.error());
  for (const QJsonValue& b : f.Array("barrier_latency_histogram")) {
    if (!b.isObject()) {
      f.Fail(QStringLiteral("a barrier_latency_histogram entry is not an object"));
      break;
    }
    FieldReader hf(b.toObject(), v.name + QStringLiteral(" barrier_latency_histogram"));
    v.latency_histogram.push_back({hf.Int("le_us"), hf.Int("count")});
    if (!hf.error().isEmpty() && f.error().isEmpty()) return std::unexpected(hf.error());
  }
  std::sort(v.latency_histogram.begin(), v.latency_histogram.end(),
            [](const LatencyBucket& a, const LatencyBucket& b) { return a.le_us < b.le_us; });
  for (const QJsonValue& b : f.Array("inflight_barriers")) {
    if (!b.isObject()) {
      f.Fail(QStringLiteral("an inflight_barriers entry is not an object"));
      break;
    }
    FieldReader bf(b.toObject(), v.name + QStringLiteral(" inflight_barriers"));
    v.inflight_barriers.push_back(
        {bf.Int("id"), bf.Bool("ordered"), bf.String("phase"), bf.Int("age_us"), bf.Int("waiters")});
    if (!bf.error().isEmpty() && f.error().isEmpty()) return std::unexpected(bf.error());
  }
  std::sort(v.inflight_barriers.begin(), v.inflight_barriers.end(),
            [](const BarrierSample& a, const BarrierSample& b) { return a.id < b.id; });
  for (const QJsonValue& s : f.Array("status")) {
    if (!s.isString()) {
      f.Fail(QStringLiteral("a status line is not a string"));
      break;
    }
    v.status.push_back(s.toString());
  }
  if (!f.error().isEmpty()) return std::unexpected(f.error());
  return v;
}

double PerSecond(qint64 prev, qint64 cur, double seconds) {
  return cur >= prev ? static_cast<double>(cur - prev) / seconds : 0.0;
}

}  // namespace

Rates RatesBetween(const VolumeSample& prev, qint64 prev_ms, const VolumeSample& cur,
                   qint64 cur_ms) {
  if (cur_ms <= prev_ms) return {};
  if (cur.reads < prev.reads || cur.writes < prev.writes) return {};
  const double s = static_cast<double>(cur_ms - prev_ms) / 1000.0;
  constexpr double kMB = 1e6;
  return {PerSecond(prev.reads, cur.reads, s), PerSecond(prev.writes, cur.writes, s),
          PerSecond(prev.read_bytes, cur.read_bytes, s) / kMB,
          PerSecond(prev.write_bytes, cur.write_bytes, s) / kMB};
}

std::expected<Snapshot, QString> ParseSnapshot(const QJsonObject& snapshot) {
  FieldReader f(snapshot, QStringLiteral("snapshot"));
  Snapshot out;
  out.time_ms = f.Int("time_ms");
  if (!snapshot.value(QLatin1String("volumes")).isArray()) {
    return std::unexpected(QStringLiteral("snapshot: no 'volumes' array"));
  }
  const QJsonArray vols = f.Array("volumes");
  out.volumes.reserve(vols.size());
  for (qsizetype i = 0; i < vols.size(); ++i) {
    if (!vols[i].isObject()) {
      return std::unexpected(QStringLiteral("snapshot: volume %1 is not an object").arg(i));
    }
    auto v = ParseVolume(vols[i].toObject(), i);
    if (!v) return std::unexpected(v.error());
    out.volumes.push_back(std::move(*v));
  }
  if (!f.error().isEmpty()) return std::unexpected(f.error());
  return out;
}

QString TablesText(const VolumeSample& v) {
  if (v.live_table && v.inactive_table) return QStringLiteral("LIVE & INACTIVE");
  if (v.live_table) return QStringLiteral("LIVE");
  if (v.inactive_table) return QStringLiteral("INACTIVE");
  return QStringLiteral("NONE");
}

}  // namespace udm::gui
