// Per-device statistics: counters cheap enough for the hot path (sharded,
// relaxed atomics), a latency histogram for flushes and barriers, and the
// snapshot value types that status, `stats` and the dashboard read.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace udm {

enum class SuspendState { kActive, kSuspending, kSuspended };
std::string_view SuspendStateName(SuspendState s);

// Where an in-flight flush or barrier is (the 2009 barrier's phases).
enum class BarrierPhase {
  kQueued,        // in the deferred queue behind a barrier or a suspend
  kWaitEarlier,   // waiting for earlier requests to finish
  kPreflush,      // flushing every device before the payload
  kPayload,       // the barrier's own data
  kPostflush,     // flushing the payload before completion
};
std::string_view BarrierPhaseName(BarrierPhase p);

struct InflightBarrier {
  uint64_t id = 0;
  bool ordered = false;  // an ordered barrier (else a plain flush)
  BarrierPhase phase = BarrierPhase::kQueued;
  uint64_t age_us = 0;
};

struct LatencyPercentiles {
  uint64_t count = 0;
  uint64_t p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0;
};

struct StatsSnapshot {
  uint64_t reads = 0, writes = 0, flushes = 0, barriers = 0, discards = 0, write_zeroes = 0;
  uint64_t read_bytes = 0, write_bytes = 0;
  uint64_t errors = 0, requeues = 0;
  // The last failure: "write to /img/a at sector 8: No space left on
  // device" (sectors of that device); empty when nothing failed yet.
  std::string last_error;
  uint64_t in_flight = 0;       // admitted requests not yet completed
  uint64_t deferred = 0;        // requests in the deferred queue
  LatencyPercentiles barrier_latency;  // flushes and barriers, submit to completion
  std::vector<InflightBarrier> inflight_barriers;
  SuspendState suspend_state = SuspendState::kActive;
  uint64_t event_nr = 0;
};

// A log-linear histogram of latencies in nanoseconds (8 sub-buckets per
// power of two, so percentiles are within 12.5%). Thread-safe, lock-free.
class LatencyHistogram {
 public:
  void Record(uint64_t ns);
  LatencyPercentiles Percentiles() const;

  static constexpr int kSubBits = 3;
  static constexpr int kBuckets = (64 - kSubBits + 1) << kSubBits;
  static int BucketOf(uint64_t ns);
  static uint64_t BucketUpperNs(int bucket);

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> max_ns_{0};
};

// Counters of completed requests, split over cache-line-sized shards so
// that submitting threads do not share a line.
class IoCounters {
 public:
  enum Counter {
    kReads, kWrites, kFlushes, kBarriers, kDiscards, kWriteZeroes,
    kReadBytes, kWriteBytes, kErrors, kRequeues, kNumCounters
  };
  void Add(Counter c, uint64_t n) {
    shards_[ShardIndex()].v[c].fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t Sum(Counter c) const;

 private:
  static constexpr int kShards = 8;
  static unsigned ShardIndex();
  struct alignas(64) Shard {
    std::array<std::atomic<uint64_t>, kNumCounters> v{};
  };
  std::array<Shard, kShards> shards_{};
};

}  // namespace udm
