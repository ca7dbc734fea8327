// Latency percentiles of one interval, from the difference between two
// cumulative histograms (the daemon's counts only grow), so a chart can show
// how latency is now rather than since the volume was created.
#pragma once

#include <QList>

#include "snapshot.h"

namespace udm::gui {

struct IntervalLatency {
  qint64 count = 0;  // latencies recorded in the interval
  qint64 p50_us = 0, p99_us = 0, max_us = 0;
  bool operator==(const IntervalLatency&) const = default;
};

// The latencies recorded between `prev` and `cur` (both ascending by
// le_us). A bucket whose count went down means the counts began again (the
// daemon restarted or the volume was re-created): then `cur` is the whole
// interval. Percentiles are bucket bounds, so within 12.5% (above) of the
// true value; with no latency in the interval all fields are zero.
IntervalLatency LatencyBetween(const QList<LatencyBucket>& prev, const QList<LatencyBucket>& cur);

// At most `max_bars` buckets for a bar chart: neighbours are merged in
// pairs (the merged bucket keeps the higher bound, so every bound stays
// true) until few enough remain. `max_bars` must be at least 1.
QList<LatencyBucket> CoarsenBuckets(QList<LatencyBucket> buckets, qsizetype max_bars);

}  // namespace udm::gui
