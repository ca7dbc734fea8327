// Statistics as users read them: counters of completed I/O, latency
// percentiles, in-flight barriers with phase and age, suspend state.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <thread>

#include "support/manual_backend.h"
#include "support/test_io.h"
#include "support/test_resolver.h"

namespace udm::test {
namespace {

TEST(LatencyHistogramTest, BucketsBoundEveryValueWithinAnEighth) {
  for (uint64_t v : {0ull, 1ull, 7ull, 8ull, 9ull, 100ull, 1000ull, 123456ull, 999999999ull,
                     1ull << 40, (1ull << 62) + 12345}) {
    const int b = LatencyHistogram::BucketOf(v);
    ASSERT_LT(b, LatencyHistogram::kBuckets);
    const uint64_t upper = LatencyHistogram::BucketUpperNs(b);
    EXPECT_GE(upper, v);
    EXPECT_LE(upper - v, v / 8 + 1) << v;
    if (b > 0) {
      EXPECT_LT(LatencyHistogram::BucketUpperNs(b - 1), v) << v;
    }
  }
}

TEST(LatencyHistogramTest, PercentilesFollowTheRecordedValues) {
  LatencyHistogram h;
  for (int i = 1; i <= 1000; ++i) h.Record(static_cast<uint64_t>(i) * 1000);  // 1..1000 us
  LatencyPercentiles p = h.Percentiles();
  EXPECT_EQ(p.count, 1000u);
  EXPECT_NEAR(static_cast<double>(p.p50_us), 500, 500 / 8.0);
  EXPECT_NEAR(static_cast<double>(p.p90_us), 900, 900 / 8.0);
  EXPECT_NEAR(static_cast<double>(p.p99_us), 990, 990 / 8.0);
  EXPECT_EQ(p.max_us, 1000u);
  EXPECT_EQ(LatencyHistogram().Percentiles().count, 0u);
}

TEST(LatencyHistogramTest, BucketsListNonEmptyBucketsAtMicrosecondResolution) {
  LatencyHistogram h;
  EXPECT_TRUE(h.Buckets().empty());
  h.Record(1);      // sub-microsecond values share the 1 us bucket
  h.Record(500);
  for (int i = 0; i < 3; ++i) h.Record(100'000);
  h.Record(5'000'000);
  const std::vector<HistogramBucket> b = h.Buckets();
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0], (HistogramBucket{1, 2}));
  EXPECT_EQ(b[1].count, 3u);
  EXPECT_GE(b[1].le_us, 100u);
  EXPECT_LE(b[1].le_us, 100u + 100u / 8 + 1);
  EXPECT_EQ(b[2].count, 1u);
  EXPECT_GE(b[2].le_us, 5000u);
  EXPECT_LE(b[2].le_us, 5000u + 5000u / 8 + 1);
}

TEST(DeviceStatsTest, CountsCompletedRequestsAndBytes) {
  auto mem = std::make_shared<MemoryBackend>("mem", 4096);
  TestResolver r;
  r.Add(mem);
  auto md = MakeDevice("0 2048 linear mem 0\n2048 2048 error", r);
  std::vector<std::unique_ptr<TestIo>> ios;
  for (int i = 0; i < 3; ++i) ios.push_back(TestIo::Write(i * 8, 8, 1));
  for (int i = 0; i < 2; ++i) ios.push_back(TestIo::Read(i * 16, 16));
  ios.push_back(TestIo::Flush());
  ios.push_back(TestIo::Make(Op::kDiscard, 0, 8, 0));
  ios.push_back(TestIo::Read(2048, 8));  // the error target
  for (auto& io : ios) {
    md->Submit(io->bio());
    ASSERT_TRUE(io->Wait());
  }
  StatsSnapshot s = md->Stats();
  EXPECT_EQ(s.writes, 3u);
  EXPECT_EQ(s.write_bytes, 3u * 4096);
  EXPECT_EQ(s.reads, 2u);
  EXPECT_EQ(s.read_bytes, 2u * 8192);
  EXPECT_EQ(s.flushes, 1u);
  EXPECT_EQ(s.discards, 1u);
  EXPECT_EQ(s.errors, 1u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.barrier_latency.count, 1u);
  ASSERT_EQ(s.barrier_latency_histogram.size(), 1u);
  EXPECT_EQ(s.barrier_latency_histogram[0].count, 1u);
  EXPECT_TRUE(s.inflight_barriers.empty());
}

// What failed last, in words: the device and its sector, the errno text;
// or what the engine or a target refused.
TEST(DeviceStatsTest, LastErrorNamesTheDeviceTheSectorAndTheReason) {
  auto disk = std::make_shared<ManualBackend>("/img/a.img", 4096);
  TestResolver r;
  r.Add(disk);
  auto md = MakeDevice("0 2048 linear /img/a.img 1000\n2048 2048 error", r);
  EXPECT_EQ(md->Stats().last_error, "");

  auto write = TestIo::Write(8, 8, 1);
  md->Submit(write->bio());
  ASSERT_TRUE(disk->WaitHeld(1));
  disk->ReleaseAll(-ENOSPC);
  ASSERT_TRUE(write->Wait());
  EXPECT_EQ(md->Stats().last_error, "write to /img/a.img at sector 1008: No space left on device");

  auto read = TestIo::Read(2056, 8);
  md->Submit(read->bio());
  ASSERT_TRUE(read->Wait());
  EXPECT_EQ(md->Stats().last_error, "read at sector 2056: failed by the target at sector 2048");

  auto flush = TestIo::Flush();
  md->Submit(flush->bio());
  ASSERT_TRUE(disk->WaitHeld(1));
  disk->ReleaseAll(-EIO);
  ASSERT_TRUE(flush->Wait());
  EXPECT_EQ(md->Stats().last_error, "flush of /img/a.img: Input/output error");

  auto past = TestIo::Read(4096, 8);
  md->Submit(past->bio());
  ASSERT_TRUE(past->Wait());
  EXPECT_EQ(md->Stats().last_error, "read at sector 4096: beyond the end (4096 sectors)");
  EXPECT_EQ(md->Stats().errors, 4u);
  disk->SetPassThrough(true);  // the device's destructor flushes
}

TEST(DeviceStatsTest, InflightBarrierShowsItsPhaseAndAges) {
  auto m = std::make_shared<ManualBackend>("m", 4096);
  TestResolver r;
  r.Add(m);
  auto md = MakeDevice("0 4096 linear m 0", r, BarrierMode::kOrdered);
  auto w = TestIo::Write(0, 8, 1);
  auto b = TestIo::Write(8, 8, 2, kPreflush);
  md->Submit(w->bio());
  md->Submit(b->bio());
  ASSERT_TRUE(m->WaitHeld(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  StatsSnapshot s = md->Stats();
  ASSERT_EQ(s.inflight_barriers.size(), 1u);
  EXPECT_EQ(s.inflight_barriers[0].phase, BarrierPhase::kWaitEarlier);
  EXPECT_TRUE(s.inflight_barriers[0].ordered);
  EXPECT_GE(s.inflight_barriers[0].age_us, 20000u);
  EXPECT_EQ(s.in_flight, 1u);

  m->ReleaseAll();  // the earlier write
  ASSERT_TRUE(m->WaitHeld(1));  // the pre-flush
  EXPECT_EQ(md->Stats().inflight_barriers[0].phase, BarrierPhase::kPreflush);
  m->ReleaseAll();
  ASSERT_TRUE(m->WaitHeld(1));
  EXPECT_EQ(md->Stats().inflight_barriers[0].phase, BarrierPhase::kPayload);
  m->ReleaseAll();
  ASSERT_TRUE(m->WaitHeld(1));
  EXPECT_EQ(md->Stats().inflight_barriers[0].phase, BarrierPhase::kPostflush);
  m->SetPassThrough(true);
  m->ReleaseAll();
  ASSERT_TRUE(b->Wait());
  s = md->Stats();
  EXPECT_TRUE(s.inflight_barriers.empty());
  EXPECT_EQ(s.barriers, 1u);
  EXPECT_GE(s.barrier_latency.max_us, 20000u);
}

// A flush admitted while Stats() runs must not show an age from the future:
// the age is taken against a clock read after the flush was stamped, so it
// never wraps around to hundreds of days. Each flush is listed only briefly
// (the memory backend completes it in Submit), so this samples a race: with
// the clock read before the lock it failed within 30 ms here.
TEST(DeviceStatsTest, InflightBarrierAgeNeverWrapsWhileFlushesArrive) {
  auto mem = std::make_shared<MemoryBackend>("mem", 4096);
  TestResolver r;
  r.Add(mem);
  auto md = MakeDevice("0 4096 linear mem 0", r);
  std::atomic<bool> stop{false};
  std::thread flusher([&] {
    while (!stop.load()) {
      std::vector<std::unique_ptr<TestIo>> batch;
      for (int i = 0; i < 16; ++i) {
        batch.push_back(TestIo::Flush());
        md->Submit(batch.back()->bio());
      }
      for (auto& io : batch) EXPECT_TRUE(io->Wait());  // all of them, before they go
    }
  });
  // Until 20000 listed flushes were sampled (or 10 s passed); with the old
  // clock read that failed 8 runs in 10 after 2000.
  uint64_t seen = 0, worst_us = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (seen < 20000 && worst_us < 60'000'000 && std::chrono::steady_clock::now() < deadline) {
    for (const InflightBarrier& b : md->Stats().inflight_barriers) {
      ++seen;
      worst_us = std::max(worst_us, b.age_us);
    }
  }
  stop = true;
  flusher.join();
  EXPECT_GT(seen, 0u) << "no flush was ever seen in flight: the test checked nothing";
  EXPECT_LT(worst_us, 60'000'000u) << "over " << seen << " in-flight barriers seen";
}

// An ordered barrier waiting for an earlier write holds everything admitted
// after it; a second barrier in the queue holds only what is behind it.
TEST(DeviceStatsTest, OrderedBarrierCountsTheRequestsWaitingBehindIt) {
  auto m = std::make_shared<ManualBackend>("m", 4096);
  TestResolver r;
  r.Add(m);
  auto md = MakeDevice("0 4096 linear m 0", r, BarrierMode::kOrdered);
  std::vector<std::unique_ptr<TestIo>> ios;
  auto submit = [&](std::unique_ptr<TestIo> io) {
    md->Submit(io->bio());
    ios.push_back(std::move(io));
  };
  submit(TestIo::Write(0, 8, 1));
  ASSERT_TRUE(m->WaitHeld(1));
  submit(TestIo::Write(8, 8, 2, kPreflush));  // barrier 1
  constexpr int kBehind = 3;
  for (int i = 0; i < kBehind; ++i) submit(TestIo::Write(16 + i * 8, 8, 3));
  submit(TestIo::Write(64, 8, 4, kPreflush));  // barrier 2
  submit(TestIo::Write(72, 8, 5));
  submit(TestIo::Write(80, 8, 5));

  StatsSnapshot s = md->Stats();
  ASSERT_EQ(s.inflight_barriers.size(), 2u);
  std::sort(s.inflight_barriers.begin(), s.inflight_barriers.end(),
            [](const InflightBarrier& a, const InflightBarrier& b) { return a.id < b.id; });
  EXPECT_EQ(s.inflight_barriers[0].waiters, kBehind + 3u);  // the writes, barrier 2, its writes
  EXPECT_EQ(s.inflight_barriers[1].waiters, 2u);

  m->SetPassThrough(true);
  m->ReleaseAll();
  for (auto& io : ios) ASSERT_TRUE(io->Wait());
  EXPECT_TRUE(md->Stats().inflight_barriers.empty());
}

TEST(DeviceStatsTest, FlushModeFlushHoldsNothingBack) {
  auto m = std::make_shared<ManualBackend>("m", 4096);
  TestResolver r;
  r.Add(m);
  auto md = MakeDevice("0 4096 linear m 0", r);
  auto flush = TestIo::Flush();
  md->Submit(flush->bio());
  ASSERT_TRUE(m->WaitHeld(1));
  auto w = TestIo::Write(0, 8, 1);
  md->Submit(w->bio());  // runs beside the flush, not behind it
  ASSERT_TRUE(m->WaitHeld(2));
  StatsSnapshot s = md->Stats();
  ASSERT_EQ(s.inflight_barriers.size(), 1u);
  EXPECT_FALSE(s.inflight_barriers[0].ordered);
  EXPECT_EQ(s.inflight_barriers[0].waiters, 0u);
  m->SetPassThrough(true);
  m->ReleaseAll();
  ASSERT_TRUE(flush->Wait());
  ASSERT_TRUE(w->Wait());
}

TEST(DeviceStatsTest, SuspendStateIsVisibleWhileSuspending) {
  auto m = std::make_shared<ManualBackend>("m", 4096);
  TestResolver r;
  r.Add(m);
  auto md = MakeDevice("0 4096 linear m 0", r);
  EXPECT_EQ(md->Stats().suspend_state, SuspendState::kActive);
  auto w = TestIo::Write(0, 8, 1);
  md->Submit(w->bio());
  ASSERT_TRUE(m->WaitHeld(1));
  auto suspended = std::async(std::launch::async, [&] { return md->Suspend(true).has_value(); });
  for (int i = 0; i < 100 && md->Stats().suspend_state != SuspendState::kSuspending; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(md->Stats().suspend_state, SuspendState::kSuspending);
  m->SetPassThrough(true);
  m->ReleaseAll();
  ASSERT_TRUE(suspended.get());
  EXPECT_EQ(md->Stats().suspend_state, SuspendState::kSuspended);
  ASSERT_TRUE(md->Resume());
}

}  // namespace
}  // namespace udm::test
