// Per-interval percentiles from bucket deltas.
#include "latency_interval.h"

#include <optional>

namespace udm::gui {

namespace {

// cur - prev per bucket, or nothing when a count went backwards.
std::optional<QList<LatencyBucket>> Delta(const QList<LatencyBucket>& prev,
                                          const QList<LatencyBucket>& cur) {
  QList<LatencyBucket> out;
  qsizetype j = 0;
  for (const LatencyBucket& c : cur) {
    while (j < prev.size() && prev[j].le_us < c.le_us) {
      if (prev[j].count != 0) return std::nullopt;  // a bucket vanished
      ++j;
    }
    qint64 before = 0;
    if (j < prev.size() && prev[j].le_us == c.le_us) before = prev[j++].count;
    if (c.count < before) return std::nullopt;
    if (c.count > before) out.push_back({c.le_us, c.count - before});
  }
  for (; j < prev.size(); ++j) {
    if (prev[j].count != 0) return std::nullopt;
  }
  return out;
}

}  // namespace

IntervalLatency LatencyBetween(const QList<LatencyBucket>& prev, const QList<LatencyBucket>& cur) {
  const QList<LatencyBucket> delta = Delta(prev, cur).value_or(cur);
  IntervalLatency out;
  for (const LatencyBucket& b : delta) out.count += b.count;
  if (out.count == 0) return out;
  // The rank of quantile q among count values, as the daemon computes its
  // lifetime percentiles.
  auto at = [&](double q) {
    const auto rank = static_cast<qint64>(q * static_cast<double>(out.count - 1)) + 1;
    qint64 seen = 0;
    for (const LatencyBucket& b : delta) {
      seen += b.count;
      if (seen >= rank) return b.le_us;
    }
    return delta.back().le_us;
  };
  out.p50_us = at(0.50);
  out.p99_us = at(0.99);
  // The exact maximum is kept only over the lifetime; the interval's is
  // approximated by the bound of its highest non-empty bucket (at most
  // 12.5% above the true value).
  out.max_us = delta.back().le_us;
  return out;
}

QList<LatencyBucket> CoarsenBuckets(QList<LatencyBucket> buckets, qsizetype max_bars) {
  while (buckets.size() > max_bars) {
    QList<LatencyBucket> merged;
    for (qsizetype i = 0; i < buckets.size(); i += 2) {
      if (i + 1 < buckets.size()) {
        merged.push_back({buckets[i + 1].le_us, buckets[i].count + buckets[i + 1].count});
      } else {
        merged.push_back(buckets[i]);
      }
    }
    buckets = std::move(merged);
  }
  return buckets;
}

}  // namespace udm::gui
