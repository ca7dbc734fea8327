// The six rules of the barrier contract (DESIGN.md), each forced with a
// backend whose completions the test releases one at a time. Every test
// here fails on the flawed design the 2009 review describes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "support/manual_backend.h"
#include "support/test_io.h"
#include "support/test_resolver.h"

namespace udm::test {
namespace {

using ::testing::ElementsAre;

constexpr int kSettleMs = 50;  // long enough for a wrong design to act

void Settle() { std::this_thread::sleep_for(std::chrono::milliseconds(kSettleMs)); }

// A linear-like target that asks for a requeue when its device fails a
// request (what a mirror does when a leg fails), counting requeues.
class RequeueOnErrorTarget : public Target {
 public:
  explicit RequeueOnErrorTarget(std::shared_ptr<BlockDevice> dev) : dev_(std::move(dev)) {}
  MapResult Map(Bio* bio) override {
    bio->device = dev_.get();
    bio->sector -= begin();
    return MapResult::kRemapped;
  }
  EndIoResult EndIo(Bio*, int* status) override {
    return *status == -EIO ? EndIoResult::kRequeue : EndIoResult::kDone;
  }
  std::string StatusLine(StatusType) const override { return dev_->name(); }
  uint32_t num_flush_bios() const override { return 1; }

 private:
  std::shared_ptr<BlockDevice> dev_;
};

const TargetType kRequeueType{
    "requeue-on-error", {1, 0, 0},
    [](const TargetContext& ctx, std::span<const std::string> args)
        -> Result<std::unique_ptr<Target>> {
      auto dev = ctx.GetDevice(args[0], 0, ctx.length);
      if (!dev) return std::unexpected(dev.error());
      return std::make_unique<RequeueOnErrorTarget>(*dev);
    }};

const TargetRegistry& Registry() {
  static const TargetRegistry r = [] {
    TargetRegistry reg;
    RegisterBuiltinTargets(reg);
    (void)reg.Register(kRequeueType);
    return reg;
  }();
  return r;
}

class BarrierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m0_ = std::make_shared<ManualBackend>("m0", 4096);
    m1_ = std::make_shared<ManualBackend>("m1", 4096);
    resolver_.Add(m0_);
    resolver_.Add(m1_);
  }
  // The fixture owns the device so that teardown drains the backends first.
  MappedDevice* Device(const std::string& table, BarrierMode mode) {
    md_ = MakeDevice(table, resolver_, mode, Registry());
    EXPECT_NE(md_, nullptr);
    return md_.get();
  }
  // Releases everything until the device is idle, so teardown can suspend.
  void Drain() {
    m0_->SetPassThrough(true);
    m1_->SetPassThrough(true);
    m0_->ReleaseAll();
    m1_->ReleaseAll();
  }
  void TearDown() override {
    Drain();
    md_.reset();
  }

  std::shared_ptr<ManualBackend> m0_, m1_;
  std::unique_ptr<MappedDevice> md_;
  TestResolver resolver_;
};

// An ordered barrier on an idle device has nothing to wait for: the
// submitter issues its pre-flush, the thread that completes the last flush
// delivers its completion, and the gate reopens at once. No worker wakeup
// in between (each is a thread hop on every fsync of an ordered volume).
TEST_F(BarrierTest, OrderedBarrierOnAnIdleDeviceRunsWithoutTheWorker) {
  auto md = Device("0 4096 linear m0 0", BarrierMode::kOrdered);
  auto barrier = TestIo::Flush();
  md->Submit(barrier->bio());
  // Issued by Submit itself, not by a worker woken for it.
  ASSERT_EQ(m0_->Seen().size(), 1u);
  EXPECT_EQ(m0_->Seen()[0].op, Op::kFlush);
  EXPECT_FALSE(barrier->done());
  ASSERT_TRUE(m0_->Release(0));
  ASSERT_TRUE(barrier->done()) << "completed by the thread that completed its flush";
  EXPECT_EQ(barrier->completer(), std::this_thread::get_id());
  EXPECT_EQ(barrier->status(), 0);
  // The gate is open again: a write goes straight to the device.
  auto w = TestIo::Write(0, 8, 0x33);
  md->Submit(w->bio());
  EXPECT_EQ(m0_->Seen().size(), 2u);
  ASSERT_TRUE(m0_->Release(1));
  ASSERT_TRUE(w->done());

  // One that fails at once (beyond the end) completes inside Submit and
  // leaves the gate open.
  auto beyond = TestIo::Write(4096, 8, 0x55, kBarrier);
  md->Submit(beyond->bio());
  ASSERT_TRUE(beyond->done());
  EXPECT_EQ(beyond->status(), -EIO);
  auto after = TestIo::Write(24, 8, 0x66);
  md->Submit(after->bio());
  EXPECT_EQ(m0_->Seen().size(), 3u);
  ASSERT_TRUE(m0_->Release(2));
  ASSERT_TRUE(after->done());

  // A barrier with a payload: the worker issues the payload and the
  // post-flush, and the post-flush's completion delivers the barrier's.
  // Which thread delivers it is timing: the worker holds a reference on a
  // phase while it issues it, and if the post-flush completes before the
  // worker lets go, the worker delivers the barrier. So this part comes
  // last: the device may be busy finishing it a little after Wait().
  auto fua = TestIo::Write(16, 8, 0x44, kBarrier | kPreflush | kFua);
  md->Submit(fua->bio());
  ASSERT_TRUE(m0_->WaitSeen(4));
  ASSERT_TRUE(m0_->Release(3));  // the pre-flush
  ASSERT_TRUE(m0_->WaitSeen(5));
  ASSERT_TRUE(m0_->Release(4));  // the payload
  ASSERT_TRUE(m0_->WaitSeen(6));
  EXPECT_EQ(m0_->Seen()[5].op, Op::kFlush);
  EXPECT_FALSE(fua->done());
  ASSERT_TRUE(m0_->Release(5));  // the post-flush
  ASSERT_TRUE(fua->Wait());
  EXPECT_EQ(fua->completions(), 1);
  EXPECT_EQ(fua->status(), 0);
  // Whichever thread delivered it, the block is lifted afterwards: a
  // write submitted now reaches the device (at once, or from the queue).
  auto last = TestIo::Write(32, 8, 0x77);
  md->Submit(last->bio());
  ASSERT_TRUE(m0_->WaitSeen(7));
  ASSERT_TRUE(m0_->Release(6));  // before `last` goes out of scope
  ASSERT_TRUE(last->Wait());
}

// A barrier that finds earlier I/O in flight takes the worker's path, and
// so does the one after it while the first is running.
TEST_F(BarrierTest, BarriersBehindEarlierIoOrAnotherBarrierStillWait) {
  auto md = Device("0 4096 linear m0 0", BarrierMode::kOrdered);
  auto b1 = TestIo::Flush();
  auto b2 = TestIo::Flush();
  md->Submit(b1->bio());
  md->Submit(b2->bio());
  ASSERT_TRUE(m0_->WaitSeen(1));
  Settle();
  EXPECT_EQ(m0_->Seen().size(), 1u) << "the second barrier started before the first completed";
  ASSERT_TRUE(m0_->Release(0));
  ASSERT_TRUE(b1->Wait());
  ASSERT_TRUE(m0_->WaitSeen(2));
  EXPECT_FALSE(b2->done());
  ASSERT_TRUE(m0_->Release(1));
  ASSERT_TRUE(b2->Wait());
  EXPECT_EQ(b1->status(), 0);
  EXPECT_EQ(b2->status(), 0);
}

// Rule 1: the barrier waits for earlier requests before its pre-flush, and
// later requests wait for the barrier.
TEST_F(BarrierTest, OrderedBarrierWaitsForEarlierIoAndHoldsLaterIo) {
  auto md = Device("0 4096 linear m0 0", BarrierMode::kOrdered);
  auto w1 = TestIo::Write(0, 8, 0x11);
  auto barrier = TestIo::Flush();
  auto w2 = TestIo::Write(8, 8, 0x22);
  md->Submit(w1->bio());
  md->Submit(barrier->bio());
  md->Submit(w2->bio());
  ASSERT_TRUE(m0_->WaitSeen(1));
  Settle();
  // Only the earlier write has reached the device.
  ASSERT_EQ(m0_->Seen().size(), 1u);
  EXPECT_FALSE(barrier->done());

  ASSERT_TRUE(m0_->Release(0));
  ASSERT_TRUE(m0_->WaitSeen(2));
  Settle();
  auto seen = m0_->Seen();
  ASSERT_EQ(seen.size(), 2u) << "the later write overtook the barrier";
  EXPECT_EQ(seen[1].op, Op::kFlush);
  EXPECT_FALSE(w2->done());

  ASSERT_TRUE(m0_->Release(1));
  ASSERT_TRUE(barrier->Wait());
  EXPECT_EQ(barrier->status(), 0);
  ASSERT_TRUE(m0_->WaitSeen(3));  // the block lifted: the queue ran by itself
  EXPECT_EQ(m0_->Seen()[2].op, Op::kWrite);
  EXPECT_EQ(m0_->Seen()[2].first_byte, 0x22);
  ASSERT_TRUE(m0_->Release(2));
  ASSERT_TRUE(w2->Wait());
  EXPECT_EQ(w1->completions() + barrier->completions() + w2->completions(), 3);
}

// Rule 1 with a payload: pre-flush, then the payload, then the post-flush,
// each only after the previous finished.
TEST_F(BarrierTest, BarrierWithPayloadRunsPreflushPayloadPostflushInOrder) {
  auto md = Device("0 4096 linear m0 0", BarrierMode::kFlush);
  auto b = TestIo::Write(16, 8, 0x33, kBarrier | kPreflush | kFua);
  md->Submit(b->bio());
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(m0_->WaitSeen(i + 1));
    Settle();
    ASSERT_EQ(m0_->Seen().size(), i + 1) << "phase " << i << " did not wait for the previous one";
    EXPECT_FALSE(b->done());
    ASSERT_TRUE(m0_->Release(i));
  }
  ASSERT_TRUE(b->Wait());
  auto seen = m0_->Seen();
  EXPECT_EQ(seen[0].op, Op::kFlush);
  EXPECT_EQ(seen[1].op, Op::kWrite);
  EXPECT_EQ(seen[1].flags & (kPreflush | kBarrier), 0u);
  EXPECT_EQ(seen[2].op, Op::kFlush);
  EXPECT_EQ(m0_->memory().Read(16, 1)[0], 0x33);
}

// Rule 2: completion is signalled only after every device's post-flush.
TEST_F(BarrierTest, BarrierCompletesOnlyAfterPostflushOfEveryDevice) {
  auto md = Device("0 2048 linear m0 0\n2048 2048 linear m1 0", BarrierMode::kOrdered);
  auto b = TestIo::Write(2040, 16, 0x44, kPreflush);  // spans both devices
  md->Submit(b->bio());
  ASSERT_TRUE(m0_->WaitHeld(1));
  ASSERT_TRUE(m1_->WaitHeld(1));
  m0_->ReleaseAll();
  m1_->ReleaseAll();  // pre-flushes
  ASSERT_TRUE(m0_->WaitHeld(1));
  ASSERT_TRUE(m1_->WaitHeld(1));
  m0_->ReleaseAll();
  m1_->ReleaseAll();  // payload halves
  ASSERT_TRUE(m0_->WaitHeld(1));
  ASSERT_TRUE(m1_->WaitHeld(1));
  EXPECT_EQ(m0_->Held()[0].op, Op::kFlush);
  EXPECT_EQ(m1_->Held()[0].op, Op::kFlush);
  m0_->ReleaseAll();
  Settle();
  EXPECT_FALSE(b->done()) << "completed before m1's post-flush";
  m1_->ReleaseAll();
  ASSERT_TRUE(b->Wait());
  EXPECT_EQ(b->status(), 0);
}

// Rule 2 for plain flushes: a flush completes after the device flush only,
// and a failing device flush fails it.
TEST_F(BarrierTest, FlushCompletesAfterDeviceFlushAndReportsItsError) {
  auto md = Device("0 2048 linear m0 0\n2048 2048 linear m1 0", BarrierMode::kFlush);
  auto f = TestIo::Flush();
  md->Submit(f->bio());
  ASSERT_TRUE(m0_->WaitHeld(1));
  ASSERT_TRUE(m1_->WaitHeld(1));
  m0_->ReleaseAll();
  Settle();
  EXPECT_FALSE(f->done());
  m1_->ReleaseAll(-EIO);
  ASSERT_TRUE(f->Wait());
  EXPECT_EQ(f->status(), -EIO);
}

// Rule 3: a request requeued by a target's end-io goes into the one
// deferred queue ahead of requests submitted after it.
TEST_F(BarrierTest, RequeuedRequestKeepsSubmissionOrderInTheDeferredQueue) {
  auto md = Device("0 4096 requeue-on-error m0", BarrierMode::kFlush);
  auto a = TestIo::Write(0, 8, 0xaa);
  md->Submit(a->bio());
  ASSERT_TRUE(m0_->WaitHeld(1));
  auto suspended = std::async(std::launch::async, [&] { return md->Suspend(true).has_value(); });
  Settle();
  auto b = TestIo::Write(8, 8, 0xbb);
  md->Submit(b->bio());  // queued behind the suspend
  ASSERT_TRUE(m0_->Release(0, -EIO));  // A fails and is requeued
  ASSERT_TRUE(suspended.get());
  EXPECT_EQ(md->Stats().deferred, 2u);
  EXPECT_FALSE(a->done());

  m0_->SetPassThrough(true);
  ASSERT_TRUE(md->Resume());
  ASSERT_TRUE(a->Wait());
  ASSERT_TRUE(b->Wait());
  auto seen = m0_->Seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].first_byte, 0xaa) << "the requeued request ran after a later one";
  EXPECT_EQ(seen[2].first_byte, 0xbb);
  EXPECT_EQ(a->status(), 0);
  EXPECT_EQ(a->completions(), 1);
  EXPECT_EQ(md->Stats().requeues, 1u);
}

// Rules 1 and 3 together: a request admitted before a barrier and requeued
// while the barrier waits still runs (and finishes) before the barrier.
TEST_F(BarrierTest, RequeuedEarlierRequestRunsBeforeTheWaitingBarrier) {
  auto md = Device("0 4096 requeue-on-error m0", BarrierMode::kOrdered);
  auto a = TestIo::Write(0, 8, 0xaa);
  auto barrier = TestIo::Flush();
  md->Submit(a->bio());
  md->Submit(barrier->bio());
  ASSERT_TRUE(m0_->WaitHeld(1));
  ASSERT_TRUE(m0_->Release(0, -EIO));
  ASSERT_TRUE(m0_->WaitSeen(2));
  Settle();
  auto seen = m0_->Seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].op, Op::kWrite) << "the barrier started before an earlier request finished";
  ASSERT_TRUE(m0_->Release(1));
  ASSERT_TRUE(a->Wait());
  ASSERT_TRUE(m0_->WaitSeen(3));
  EXPECT_EQ(m0_->Seen()[2].op, Op::kFlush);
  ASSERT_TRUE(m0_->Release(2));
  ASSERT_TRUE(barrier->Wait());
}

// Rule 4: resume runs the deferred queue without any further submission.
TEST_F(BarrierTest, ResumeRunsTheDeferredQueue) {
  auto md = Device("0 4096 linear m0 0", BarrierMode::kOrdered);
  m0_->SetPassThrough(true);
  ASSERT_TRUE(md->Suspend());
  std::vector<std::unique_ptr<TestIo>> ios;
  for (int i = 0; i < 50; ++i) {
    ios.push_back(i % 10 == 9 ? TestIo::Flush() : TestIo::Write(i * 8, 8, static_cast<uint8_t>(i)));
    md->Submit(ios.back()->bio());
  }
  Settle();
  for (auto& io : ios) EXPECT_FALSE(io->done());
  ASSERT_TRUE(md->Resume());
  for (auto& io : ios) {
    ASSERT_TRUE(io->Wait());
    EXPECT_EQ(io->status(), 0);
  }
}

// Rule 4: barriers and ordinary I/O submitted at the same time from several
// threads never lock up, with completions released from another thread.
TEST_F(BarrierTest, ConcurrentBarriersAndIoFromSeveralThreadsNeverLockUp) {
  auto md = Device("0 2048 linear m0 0\n2048 2048 linear m1 0", BarrierMode::kOrdered);
  std::atomic<bool> stop{false};
  std::thread releaser([&] {
    while (!stop.load()) {
      m0_->ReleaseAll();
      m1_->ReleaseAll();
      std::this_thread::yield();
    }
  });
  constexpr int kThreads = 4, kPerThread = 300;
  std::vector<std::vector<std::unique_ptr<TestIo>>> ios(kThreads);
  std::vector<std::thread> submitters;
  for (int t = 0; t < kThreads; ++t) {
    submitters.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const uint64_t sector = static_cast<uint64_t>((t * kPerThread + i) % 500) * 8;
        auto io = i % 7 == 0 ? TestIo::Flush()
                  : i % 11 == 0 ? TestIo::Write(sector, 8, 1, kBarrier | kPreflush)
                                : TestIo::Write(sector, 8, 2);
        md->Submit(io->bio());
        ios[t].push_back(std::move(io));
      }
    });
  }
  for (auto& s : submitters) s.join();
  for (auto& v : ios) {
    for (auto& io : v) {
      ASSERT_TRUE(io->Wait(10000)) << "lockup: a request never completed";
      EXPECT_EQ(io->completions(), 1);
      EXPECT_EQ(io->status(), 0);
    }
  }
  stop = true;
  releaser.join();
}

// Rule 5: suspend does not return while a barrier is in flight.
TEST_F(BarrierTest, SuspendWaitsForTheInflightBarrier) {
  auto md = Device("0 4096 linear m0 0", BarrierMode::kOrdered);
  auto barrier = TestIo::Write(0, 8, 0x55, kPreflush);
  md->Submit(barrier->bio());
  ASSERT_TRUE(m0_->WaitHeld(1));  // the pre-flush
  std::atomic<bool> returned{false};
  auto suspended = std::async(std::launch::async, [&] {
    bool ok = md->Suspend(true).has_value();
    returned = true;
    return ok;
  });
  Settle();
  EXPECT_FALSE(returned.load()) << "suspend returned with a barrier in flight";
  m0_->SetPassThrough(true);
  m0_->ReleaseAll();
  ASSERT_TRUE(suspended.get());
  EXPECT_TRUE(barrier->done()) << "suspend returned before the barrier completed";
  EXPECT_EQ(md->suspend_state(), SuspendState::kSuspended);
  ASSERT_TRUE(md->Resume());
}

// Rule 6: submit never waits for a pending barrier; one thread can queue
// hundreds of requests behind it.
TEST_F(BarrierTest, SubmitReturnsAtOnceWhileABarrierIsPending) {
  auto md = Device("0 4096 linear m0 0", BarrierMode::kOrdered);
  auto w = TestIo::Write(0, 8, 1);
  auto barrier = TestIo::Flush();
  md->Submit(w->bio());
  md->Submit(barrier->bio());
  std::vector<std::unique_ptr<TestIo>> later;
  for (int i = 0; i < 500; ++i) later.push_back(TestIo::Write((i % 400) * 8 + 8, 8, 2));
  auto submitted = std::async(std::launch::async, [&] {
    for (auto& io : later) md->Submit(io->bio());
  });
  ASSERT_EQ(submitted.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "submit blocked behind the barrier";
  // The worker takes the barrier out of the queue to wait for the write.
  StatsSnapshot s = md->Stats();
  for (int i = 0; i < 500 && (s.inflight_barriers.empty() ||
                              s.inflight_barriers[0].phase != BarrierPhase::kWaitEarlier);
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    s = md->Stats();
  }
  EXPECT_EQ(s.deferred, 500u);
  EXPECT_EQ(s.in_flight, 1u);
  ASSERT_EQ(s.inflight_barriers.size(), 1u);
  EXPECT_TRUE(s.inflight_barriers[0].ordered);
  EXPECT_EQ(s.inflight_barriers[0].phase, BarrierPhase::kWaitEarlier);
  m0_->SetPassThrough(true);
  m0_->ReleaseAll();
  for (auto& io : later) ASSERT_TRUE(io->Wait());
  EXPECT_TRUE(barrier->done());
}

// Rule 6 in flush mode: a flush does not order, so many writes stay in
// flight around a pending flush.
TEST_F(BarrierTest, FlushModeKeepsWritesInFlightAroundAPendingFlush) {
  auto md = Device("0 4096 linear m0 0", BarrierMode::kFlush);
  auto f = TestIo::Flush();
  md->Submit(f->bio());
  std::vector<std::unique_ptr<TestIo>> ws;
  for (int i = 0; i < 100; ++i) {
    ws.push_back(TestIo::Write(i * 8, 8, 3));
    md->Submit(ws.back()->bio());
  }
  ASSERT_TRUE(m0_->WaitHeld(101));
  EXPECT_EQ(md->Stats().in_flight, 101u);
  m0_->ReleaseIf([](const SeenIo& s) { return s.op == Op::kWrite; });
  for (auto& w : ws) ASSERT_TRUE(w->Wait());
  EXPECT_FALSE(f->done());
  m0_->ReleaseAll();
  ASSERT_TRUE(f->Wait());
}

// Ordered mode keeps asynchrony before the barrier too: all earlier
// requests are in flight at once, not one by one.
TEST_F(BarrierTest, OrderedModeIssuesEarlierRequestsConcurrently) {
  auto md = Device("0 4096 linear m0 0", BarrierMode::kOrdered);
  std::vector<std::unique_ptr<TestIo>> ws;
  for (int i = 0; i < 64; ++i) {
    ws.push_back(TestIo::Write(i * 8, 8, 4));
    md->Submit(ws.back()->bio());
  }
  auto barrier = TestIo::Flush();
  md->Submit(barrier->bio());
  ASSERT_TRUE(m0_->WaitHeld(64));
  Settle();
  EXPECT_EQ(m0_->Held().size(), 64u);
  m0_->SetPassThrough(true);
  m0_->ReleaseAll();
  ASSERT_TRUE(barrier->Wait());
  EXPECT_THAT(std::vector<int>{barrier->status()}, ElementsAre(0));
}

}  // namespace
}  // namespace udm::test
