// Statistics: histogram bucketing, percentiles, sharded counters.
#include "udm/stats.h"

#include <bit>
#include <functional>
#include <thread>

namespace udm {

std::string_view SuspendStateName(SuspendState s) {
  switch (s) {
    case SuspendState::kActive: return "active";
    case SuspendState::kSuspending: return "suspending";
    case SuspendState::kSuspended: return "suspended";
  }
  return "unknown";
}

std::string_view BarrierPhaseName(BarrierPhase p) {
  switch (p) {
    case BarrierPhase::kQueued: return "queued";
    case BarrierPhase::kWaitEarlier: return "waiting-for-earlier-io";
    case BarrierPhase::kPreflush: return "pre-flush";
    case BarrierPhase::kPayload: return "payload";
    case BarrierPhase::kPostflush: return "post-flush";
  }
  return "unknown";
}

int LatencyHistogram::BucketOf(uint64_t ns) {
  constexpr uint64_t kLinear = 1u << kSubBits;
  if (ns < kLinear) return static_cast<int>(ns);
  const int msb = 63 - std::countl_zero(ns);
  const int sub = static_cast<int>((ns >> (msb - kSubBits)) & (kLinear - 1));
  return ((msb - kSubBits + 1) << kSubBits) + sub;
}

uint64_t LatencyHistogram::BucketUpperNs(int bucket) {
  constexpr int kLinear = 1 << kSubBits;
  if (bucket < kLinear) return static_cast<uint64_t>(bucket);
  const int msb = (bucket >> kSubBits) + kSubBits - 1;
  const uint64_t sub = static_cast<uint64_t>(bucket & (kLinear - 1));
  const uint64_t lo = (1ull << msb) | (sub << (msb - kSubBits));
  return lo + (1ull << (msb - kSubBits)) - 1;
}

void LatencyHistogram::Record(uint64_t ns) {
  buckets_[BucketOf(ns)].fetch_add(1, std::memory_order_relaxed);
  uint64_t m = max_ns_.load(std::memory_order_relaxed);
  while (ns > m && !max_ns_.compare_exchange_weak(m, ns, std::memory_order_relaxed)) {
  }
}

LatencyPercentiles LatencyHistogram::Percentiles() const {
  std::array<uint64_t, kBuckets> counts;
  uint64_t total = 0;
  for (int i = 0; i < kBuckets; ++i) {
    counts[i] = buckets_[i].load(std::memory_order_relaxed);
    total += counts[i];
  }
  // One reading of the maximum, after the buckets, for every figure: Record
  // may raise it meanwhile, and no percentile may exceed the max shown.
  const uint64_t max_ns = max_ns_.load(std::memory_order_relaxed);
  LatencyPercentiles p;
  p.count = total;
  p.max_us = max_ns / 1000;
  if (total == 0) return p;
  auto at = [&](double q) {
    const uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total - 1)) + 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts[i];
      if (seen >= rank) return std::min(BucketUpperNs(i), max_ns);
    }
    return max_ns;
  };
  p.p50_us = at(0.50) / 1000;
  p.p90_us = at(0.90) / 1000;
  p.p99_us = at(0.99) / 1000;
  return p;
}

std::vector<HistogramBucket> LatencyHistogram::Buckets() const {
  std::vector<HistogramBucket> out;
  for (int i = 0; i < kBuckets; ++i) {
    const uint64_t n = buckets_[i].load(std::memory_order_relaxed);
    if (n == 0) continue;
    const uint64_t upper = BucketUpperNs(i);
    const uint64_t le_us = upper / 1000 + (upper % 1000 != 0);  // no overflow at the top
    if (!out.empty() && out.back().le_us == le_us) {
      out.back().count += n;
    } else {
      out.push_back({le_us, n});
    }
  }
  return out;
}

unsigned IoCounters::ShardIndex() {
  thread_local const unsigned index =
      static_cast<unsigned>(std::hash<std::thread::id>{}(std::this_thread::get_id())) % kShards;
  return index;
}

uint64_t IoCounters::Sum(Counter c) const {
  uint64_t s = 0;
  for (const Shard& sh : shards_) s += sh.v[c].load(std::memory_order_relaxed);
  return s;
}

}  // namespace udm
