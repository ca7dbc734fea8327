// VolumeHistory: a fixed ring of recent samples per volume, the data behind
// the per-volume charts. Memory is bounded by kCapacity samples per volume
// whatever the update rate or uptime; vanished volumes are forgotten.
#pragma once

#include <array>
#include <vector>

#include <QHash>
#include <QString>

#include "snapshot.h"

namespace udm::gui {

struct HistoryPoint {
  double t_s = 0;  // daemon time, seconds since the epoch
  float in_flight = 0, deferred = 0;
  float p50_ms = 0, p99_ms = 0, max_ms = 0;
  float read_iops = 0, write_iops = 0, read_mbs = 0, write_mbs = 0;
};

class VolumeHistory {
 public:
  // 3 minutes at the default 100 ms watch interval.
  static constexpr int kCapacity = 1800;

  void Add(const HistoryPoint& p);
  int size() const { return size_; }
  // i = 0 is the oldest point kept.
  const HistoryPoint& at(int i) const { return ring_[(head_ + i) % kCapacity]; }
  const HistoryPoint& latest() const { return at(size_ - 1); }

 private:
  std::vector<HistoryPoint> ring_ = std::vector<HistoryPoint>(kCapacity);
  int head_ = 0;  // oldest point
  int size_ = 0;
};

class HistoryStore {
 public:
  // Records one point per volume of `snapshot`, with `rates` looked up by
  // name (volumes without rates record zero throughput).
  template <typename RatesOf>
  void Add(const Snapshot& snapshot, RatesOf rates_of) {
    QHash<QString, VolumeHistory> next;
    next.reserve(snapshot.volumes.size());
    for (const VolumeSample& v : snapshot.volumes) {
      VolumeHistory h = volumes_.take(v.name);
      const Rates* r = rates_of(v.name);
      h.Add(PointOf(snapshot.time_ms, v, r ? *r : Rates{}));
      next.insert(v.name, std::move(h));
    }
    volumes_ = std::move(next);
  }
  const VolumeHistory* Find(const QString& name) const;
  int volumes() const { return static_cast<int>(volumes_.size()); }

  static HistoryPoint PointOf(qint64 time_ms, const VolumeSample& v, const Rates& r);

 private:
  QHash<QString, VolumeHistory> volumes_;
};

}  // namespace udm::gui
