// Suspend, load, resume and clear as device-mapper users rely on them: I/O
// is held, never failed or lost; tables swap atomically; a failed load
// changes nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "support/manual_backend.h"
#include "support/test_io.h"
#include "support/test_resolver.h"

namespace udm::test {
namespace {

using ::testing::HasSubstr;

class SuspendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = std::make_shared<MemoryBackend>("a", 4096);
    b_ = std::make_shared<MemoryBackend>("b", 4096);
    m_ = std::make_shared<ManualBackend>("m", 4096);
    m_->SetPassThrough(true);
    resolver_.Add(a_);
    resolver_.Add(b_);
    resolver_.Add(m_);
  }
  Result<std::unique_ptr<Table>> Build(const std::string& text) {
    TableOptions opts;
    opts.resolver = &resolver_;
    return Table::FromText(text, BuiltinTargets(), opts);
  }

  std::shared_ptr<MemoryBackend> a_, b_;
  std::shared_ptr<ManualBackend> m_;
  TestResolver resolver_;
};

TEST_F(SuspendTest, SuspendHoldsIoAndResumeCompletesIt) {
  auto md = MakeDevice("0 4096 linear a 0", resolver_);
  ASSERT_TRUE(md->Suspend());
  EXPECT_EQ(md->suspend_state(), SuspendState::kSuspended);
  auto w = TestIo::Write(8, 8, 0x5a);
  md->Submit(w->bio());
  EXPECT_FALSE(w->Wait(300)) << "a write completed while the device was suspended";
  EXPECT_EQ(a_->Read(8, 1)[0], 0);
  EXPECT_EQ(md->Stats().deferred, 1u);
  ASSERT_TRUE(md->Resume());
  ASSERT_TRUE(w->Wait());
  EXPECT_EQ(w->status(), 0);
  EXPECT_EQ(a_->Read(8, 1)[0], 0x5a);
}

TEST_F(SuspendTest, LoadAndResumeSwapsTheTableAndTheHeldWriteLandsInTheNewOne) {
  auto md = MakeDevice("0 4096 linear a 0", resolver_);
  ASSERT_TRUE(md->Suspend());
  auto w = TestIo::Write(16, 8, 0x77);
  md->Submit(w->bio());
  auto t = Build("0 2048 linear b 1024");
  ASSERT_TRUE(t);
  ASSERT_TRUE(md->Load(std::move(*t)));
  EXPECT_TRUE(md->has_inactive());
  EXPECT_EQ(md->sectors(), 4096u) << "load changed the live table";
  ASSERT_TRUE(md->Resume());
  ASSERT_TRUE(w->Wait());
  EXPECT_EQ(md->sectors(), 2048u);
  EXPECT_FALSE(md->has_inactive());
  EXPECT_EQ(b_->Read(1024 + 16, 1)[0], 0x77);
  EXPECT_EQ(a_->Read(16, 1)[0], 0) << "the held write went to the old table";
  EXPECT_EQ(*md->TableText(false, StatusType::kTable), "0 2048 linear b 1024\n");
}

TEST_F(SuspendTest, FailedLoadLeavesTheInactiveSlotAsItWas) {
  auto md = MakeDevice("0 4096 linear a 0", resolver_);
  auto bad = Build("0 4096 linear a 0\n4096 10 linear nosuchdev 0");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("line 2"));
  EXPECT_THAT(bad.error().message, HasSubstr("nosuchdev"));
  EXPECT_FALSE(md->has_inactive());
  auto good = Build("0 100 zero");
  ASSERT_TRUE(md->Load(std::move(*good)));
  ASSERT_FALSE(Build("0 100 striped 2 7 a 0 b 0"));
  EXPECT_EQ(*md->TableText(true, StatusType::kTable), "0 100 zero\n");
  md->ClearInactive();
  EXPECT_FALSE(md->has_inactive());
  EXPECT_EQ(md->sectors(), 4096u);
}

TEST_F(SuspendTest, ResumeOfAnActiveDeviceWithAnInactiveTableSwapsIt) {
  auto md = MakeDevice("0 1024 linear a 0", resolver_);
  ASSERT_TRUE(md->Resume());  // nothing loaded: a no-op
  EXPECT_EQ(md->sectors(), 1024u);
  ASSERT_TRUE(md->Load(std::move(*Build("0 3000 linear b 0"))));
  ASSERT_TRUE(md->Resume());
  EXPECT_EQ(md->sectors(), 3000u);
  EXPECT_EQ(md->suspend_state(), SuspendState::kActive);
}

TEST_F(SuspendTest, SuspendingTwiceIsAnErrorThatChangesNothing) {
  auto md = MakeDevice("0 4096 linear a 0", resolver_);
  ASSERT_TRUE(md->Suspend());
  auto again = md->Suspend();
  ASSERT_FALSE(again);
  EXPECT_THAT(again.error().message, HasSubstr("already suspended"));
  EXPECT_EQ(md->suspend_state(), SuspendState::kSuspended);
  ASSERT_TRUE(md->Resume());
}

TEST_F(SuspendTest, SuspendFlushesEveryDeviceUnlessNoflush) {
  auto md = MakeDevice("0 2048 linear m 0\n2048 2048 linear m 2048", resolver_);
  auto flushes = [&] {
    size_t n = 0;
    for (const auto& s : m_->Seen()) n += s.op == Op::kFlush;
    return n;
  };
  ASSERT_TRUE(md->Suspend(/*noflush=*/true));
  EXPECT_EQ(flushes(), 0u);
  ASSERT_TRUE(md->Resume());
  ASSERT_TRUE(md->Suspend());
  EXPECT_EQ(flushes(), 2u);  // one per target using the device, like dm
  ASSERT_TRUE(md->Resume());
}

TEST_F(SuspendTest, SuspendWaitsForInflightIo) {
  auto md = MakeDevice("0 4096 linear m 0", resolver_);
  m_->SetPassThrough(false);
  auto w = TestIo::Write(0, 8, 1);
  md->Submit(w->bio());
  ASSERT_TRUE(m_->WaitHeld(1));
  auto suspended = std::async(std::launch::async, [&] { return md->Suspend(true).has_value(); });
  EXPECT_EQ(suspended.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  EXPECT_EQ(md->suspend_state(), SuspendState::kSuspending);
  m_->SetPassThrough(true);
  m_->ReleaseAll();
  ASSERT_TRUE(suspended.get());
  EXPECT_TRUE(w->done());
  ASSERT_TRUE(md->Resume());
}

TEST_F(SuspendTest, EventsCountSuspendResumeAndTableSwap) {
  std::vector<uint64_t> heard;  // outlives the device, whose teardown raises events
  auto md = MakeDevice("0 4096 linear a 0", resolver_);
  const uint64_t e0 = md->event_nr();
  EXPECT_EQ(e0, 0u) << "a new device's first table going live is not an event";
  md->SetEventListener([&](uint64_t n) { heard.push_back(n); });
  auto waiter = std::async(std::launch::async, [&] { return md->WaitEvent(e0, 5000); });
  ASSERT_TRUE(md->Suspend());
  EXPECT_GT(waiter.get(), e0);
  ASSERT_TRUE(md->Load(std::move(*Build("0 10 zero"))));
  ASSERT_TRUE(md->Resume());
  EXPECT_EQ(md->event_nr(), e0 + 3);  // suspend, swap, resume
  EXPECT_EQ(heard, (std::vector<uint64_t>{e0 + 1, e0 + 2, e0 + 3}));
  EXPECT_EQ(md->WaitEvent(e0 + 3, 10), e0 + 3);  // times out
}

TEST_F(SuspendTest, MessagesAreCheckedAndRouted) {
  auto md = MakeDevice("0 4096 linear a 0", resolver_);
  std::vector<std::string> args{"hello"};
  auto r = md->Message(0, args);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("does not take messages"));
  auto beyond = md->Message(5000, args);
  ASSERT_FALSE(beyond);
  EXPECT_THAT(beyond.error().message, HasSubstr("beyond the end"));
}

TEST_F(SuspendTest, FailDeferredFailsHeldIoWithEio) {
  auto md = MakeDevice("0 4096 linear a 0", resolver_);
  ASSERT_FALSE(md->FailDeferred()) << "only a suspended device may fail its queue";
  ASSERT_TRUE(md->Suspend());
  auto w = TestIo::Write(0, 8, 1);
  md->Submit(w->bio());
  ASSERT_TRUE(md->FailDeferred());
  ASSERT_TRUE(w->Wait());
  EXPECT_EQ(w->status(), -EIO);
  EXPECT_EQ(a_->Read(0, 1)[0], 0);
  ASSERT_TRUE(md->Resume());
}

// The destructor suspends with a flush. When that flush fails, a user's
// suspend leaves the device active; the destructor must still stop it, so
// that a write held behind a barrier is failed or finished before the
// device is gone, never issued by its worker on the way out.
TEST_F(SuspendTest, DestroyingADeviceWhoseFinalFlushFailsLeavesNothingInFlight) {
  auto md = MakeDevice("0 4096 linear m 0", resolver_);
  MappedDevice* raw = md.get();
  m_->SetPassThrough(false);
  auto barrier = TestIo::Flush(kBarrier);
  md->Submit(barrier->bio());
  ASSERT_TRUE(m_->WaitHeld(1));  // the barrier's flush
  auto w = TestIo::Write(0, 8, 7);
  md->Submit(w->bio());
  ASSERT_EQ(md->Stats().deferred, 1u) << "the write waits behind the barrier";

  auto gone = std::async(std::launch::async, [&] { md.reset(); });
  // Polling `raw` is safe while the barrier's flush is held: the
  // destructor's suspend waits for the barrier (rule 5), so it cannot end.
  for (int i = 0; i < 500 && raw->suspend_state() != SuspendState::kSuspending; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(raw->suspend_state(), SuspendState::kSuspending);
  ASSERT_EQ(m_->ReleaseAll(), 1u);  // the barrier completes; the suspend goes on
  ASSERT_TRUE(barrier->Wait());
  ASSERT_TRUE(m_->WaitHeld(1));  // the suspend's flush
  ASSERT_EQ(m_->ReleaseIf([](const SeenIo& s) { return s.op == Op::kFlush; }, -EIO), 1u);
  // Whatever the device issues now completes as soon as it is seen.
  while (gone.wait_for(std::chrono::milliseconds(10)) == std::future_status::timeout) {
    m_->ReleaseAll();
  }
  // The loop stops releasing once the destructor has returned, so anything
  // issued on the way out is still held here, and a write issued then has
  // not completed.
  EXPECT_TRUE(m_->Held().empty()) << "the device issued I/O after it was gone";
  ASSERT_TRUE(w->done()) << "the held write never completed";
  EXPECT_TRUE(w->status() == 0 || w->status() == -EIO) << w->status();
}

TEST_F(SuspendTest, BadRequestsFailWithTheRightErrno) {
  MappedDevice ro(MappedDeviceOptions{"ro", true, BarrierMode::kFlush});
  TableOptions opts;
  opts.resolver = &resolver_;
  opts.writable = false;
  ASSERT_TRUE(ro.Load(std::move(*Table::FromText("0 100 linear a 0", BuiltinTargets(), opts))));
  ASSERT_TRUE(ro.Resume());
  auto w = TestIo::Write(0, 8, 1);
  ro.Submit(w->bio());
  ASSERT_TRUE(w->Wait());
  EXPECT_EQ(w->status(), -EROFS);
  auto beyond = TestIo::Read(96, 8);
  ro.Submit(beyond->bio());
  ASSERT_TRUE(beyond->Wait());
  EXPECT_EQ(beyond->status(), -EIO);

  MappedDevice empty(MappedDeviceOptions{"empty", false, BarrierMode::kFlush});
  auto r = TestIo::Read(0, 8);
  empty.Submit(r->bio());
  ASSERT_TRUE(r->Wait());
  EXPECT_EQ(r->status(), -EIO);
  auto f = TestIo::Make(Op::kFlush, 0, 8, 0);  // a flush with a length
  empty.Submit(f->bio());
  ASSERT_TRUE(f->Wait());
  EXPECT_EQ(f->status(), -EINVAL);
}

// A target whose preresume fails: resume must leave the device suspended
// with both tables as they were.
class FailingPreresumeTarget : public Target {
 public:
  MapResult Map(Bio*) override { return MapResult::kKill; }
  Status PreResume() override {
    return Fail(ErrorCode::kIo, EIO, "backing device is gone");
  }
  std::string StatusLine(StatusType) const override { return {}; }
};
const TargetType kFailingType{"failing-preresume", {1, 0, 0},
                              [](const TargetContext&, std::span<const std::string>)
                                  -> Result<std::unique_ptr<Target>> {
                                return std::make_unique<FailingPreresumeTarget>();
                              }};

TEST_F(SuspendTest, FailedPreresumeLeavesTheDeviceAsItWas) {
  TargetRegistry reg;
  RegisterBuiltinTargets(reg);
  ASSERT_TRUE(reg.Register(kFailingType));
  auto md = MakeDevice("0 4096 linear a 0", resolver_, BarrierMode::kFlush, reg);
  TableOptions opts;
  opts.resolver = &resolver_;
  ASSERT_TRUE(md->Load(std::move(*Table::FromText("0 8 failing-preresume", reg, opts))));
  // Active before: active after, on the old table, I/O flowing.
  auto r = md->Resume();
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("backing device is gone"));
  EXPECT_EQ(md->suspend_state(), SuspendState::kActive);
  EXPECT_TRUE(md->has_inactive());
  EXPECT_EQ(md->sectors(), 4096u);
  auto w = TestIo::Write(0, 8, 0x42);
  md->Submit(w->bio());
  ASSERT_TRUE(w->Wait());
  EXPECT_EQ(w->status(), 0);
  // Suspended before: still suspended after; the live table resumes.
  ASSERT_TRUE(md->Suspend());
  ASSERT_FALSE(md->Resume());
  EXPECT_EQ(md->suspend_state(), SuspendState::kSuspended);
  ASSERT_TRUE(md->ResumeKeepingLive());
  EXPECT_EQ(md->suspend_state(), SuspendState::kActive);
  EXPECT_TRUE(md->has_inactive());
  md->ClearInactive();
}

}  // namespace
}  // namespace udm::test
