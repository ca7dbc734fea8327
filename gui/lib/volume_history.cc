// VolumeHistory ring and the conversion of a sample into a chart point.
#include "volume_history.h"

namespace udm::gui {

void VolumeHistory::Add(const HistoryPoint& p) {
  if (size_ < kCapacity) {
    ring_[(head_ + size_) % kCapacity] = p;
    ++size_;
  } else {
    ring_[head_] = p;
    head_ = (head_ + 1) % kCapacity;
  }
}

const VolumeHistory* HistoryStore::Find(const QString& name) const {
  auto it = volumes_.constFind(name);
  return it == volumes_.constEnd() ? nullptr : &*it;
}

HistoryPoint HistoryStore::PointOf(qint64 time_ms, const VolumeSample& v, const Rates& r) {
  auto ms = [](qint64 us) { return static_cast<float>(us) / 1000.0f; };
  HistoryPoint p;
  p.t_s = static_cast<double>(time_ms) / 1000.0;
  p.in_flight = static_cast<float>(v.in_flight);
  p.deferred = static_cast<float>(v.deferred);
  p.p50_ms = ms(v.latency.p50_us);
  p.p99_ms = ms(v.latency.p99_us);
  p.max_ms = ms(v.latency.max_us);
  p.read_iops = static_cast<float>(r.read_iops);
  p.write_iops = static_cast<float>(r.write_iops);
  p.read_mbs = static_cast<float>(r.read_mbs);
  p.write_mbs = static_cast<float>(r.write_mbs);
  return p;
}

}  // namespace udm::gui
