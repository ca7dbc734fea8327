// Tests for the delay target: dm-delay's table and status lines, argument
// errors, per-class delays and devices, FIFO order, and presuspend releasing
// everything still held.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "support/manual_backend.h"
#include "target_test_util.h"
#include "udm/backends.h"

namespace udm {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

class DelayTest : public test::TargetTestBase {
 protected:
  void SetUp() override {
    reads_ = std::make_shared<MemoryBackend>("rdev", 1000);
    writes_ = std::make_shared<MemoryBackend>("wdev", 1000);
    manual_ = std::make_shared<test::ManualBackend>("manual", 1000);
    manual_->SetPassThrough(true);
    resolver_.Add(reads_);
    resolver_.Add(writes_);
    resolver_.Add(manual_);
  }
  std::unique_ptr<MappedDevice> Device(const std::string& table) {
    auto md = test::MakeDevice(table, resolver_);
    EXPECT_NE(md, nullptr) << table;
    return md;
  }
  static std::string Info(MappedDevice& md) { return *md.TableText(false, StatusType::kInfo); }

  std::shared_ptr<MemoryBackend> reads_, writes_;
  std::shared_ptr<test::ManualBackend> manual_;
};

TEST_F(DelayTest, TableLinesRoundTripInEachForm) {
  EXPECT_EQ(Line("0 100 delay rdev 0 500", StatusType::kTable), "0 100 delay rdev 0 500\n");
  EXPECT_EQ(Line("0 100 delay rdev 7 0 wdev 9 300", StatusType::kTable),
            "0 100 delay rdev 7 0 wdev 9 300\n");
  EXPECT_EQ(Line("0 100 delay rdev 7 10 wdev 9 300 rdev 1 40", StatusType::kTable),
            "0 100 delay rdev 7 10 wdev 9 300 rdev 1 40\n");
  EXPECT_EQ(Line("0 100 delay rdev 0 500", StatusType::kInfo), "0 100 delay 0 0 0\n");
}

TEST_F(DelayTest, RejectsBadArguments) {
  EXPECT_THAT(LoadError("0 100 delay rdev 0"), HasSubstr("expected 3, 6 or 9 arguments"));
  EXPECT_THAT(LoadError("0 100 delay rdev 0 1 wdev"), HasSubstr("got 4"));
  EXPECT_THAT(LoadError("0 100 delay rdev 0 1 wdev 0 1 rdev 0"), HasSubstr("got 8"));
  EXPECT_THAT(LoadError("0 100 delay rdev x 1"), HasSubstr("read offset: 'x'"));
  EXPECT_THAT(LoadError("0 100 delay rdev 0 -1"), HasSubstr("read delay (ms): '-1'"));
  EXPECT_THAT(LoadError("0 100 delay rdev 0 4294967296"),
              HasSubstr("read delay (ms): 4294967296 is out of range"));
  EXPECT_THAT(LoadError("0 100 delay rdev 0 1 wdev 0 1s"), HasSubstr("write delay (ms): '1s'"));
  EXPECT_THAT(LoadError("0 100 delay rdev 0 1 wdev 0 1 rdev z 1"),
              HasSubstr("flush offset: 'z'"));
  EXPECT_THAT(LoadError("0 100 delay rdev 0 1 nosuch 0 1"),
              HasSubstr("write device: device 'nosuch' not found"));
  EXPECT_THAT(LoadError("0 100 delay rdev 901 1"), HasSubstr("too small"));
}

TEST_F(DelayTest, DelayedReadTakesAtLeastItsDelay) {
  reads_->Write(10, std::vector<uint8_t>(512, 0x5a));
  auto md = Device("0 100 delay rdev 0 200");
  auto io = test::TestIo::Read(10, 1);
  const auto start = Clock::now();
  md->Submit(io->bio());
  EXPECT_FALSE(io->done());
  EXPECT_EQ(Info(*md), "0 100 delay 1 0 0\n");
  ASSERT_TRUE(io->Wait());
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(200));
  EXPECT_EQ(io->status(), 0);
  EXPECT_EQ(io->data()[0], 0x5a);
  EXPECT_EQ(Info(*md), "0 100 delay 0 0 0\n");
}

TEST_F(DelayTest, ClassesHaveTheirOwnDelayAndDevice) {
  // Reads are immediate from rdev; writes wait a minute on wdev.
  auto md = Device("0 100 delay rdev 0 0 wdev 100 60000");
  auto w = test::TestIo::Write(5, 1, 0xee);
  md->Submit(w->bio());
  auto r = test::TestIo::Read(5, 1);
  ASSERT_EQ(Run(*md, *r), 0);  // not stuck behind the held write
  EXPECT_FALSE(w->done());
  EXPECT_EQ(Info(*md), "0 100 delay 0 1 0\n");
  // Presuspend releases the write at once and it lands on wdev at 100 + 5.
  ASSERT_TRUE(md->Suspend());
  ASSERT_TRUE(w->Wait(1000));
  EXPECT_EQ(w->status(), 0);
  EXPECT_EQ(writes_->Read(105, 1)[0], 0xee);
  EXPECT_EQ(reads_->Read(5, 1)[0], 0);
  EXPECT_EQ(Info(*md), "0 100 delay 0 0 0\n");
  ASSERT_TRUE(md->Resume());
}

TEST_F(DelayTest, FlushesAreTheirOwnClass) {
  auto md = Device("0 100 delay rdev 0 0 wdev 0 0 manual 0 60000");
  auto w = test::TestIo::Write(1, 1, 1);
  ASSERT_EQ(Run(*md, *w), 0);
  auto f = test::TestIo::Flush();
  md->Submit(f->bio());
  EXPECT_FALSE(f->done());
  EXPECT_EQ(Info(*md), "0 100 delay 0 0 1\n");
  EXPECT_TRUE(manual_->Seen().empty());
  ASSERT_TRUE(md->Suspend(/*noflush=*/true));
  ASSERT_TRUE(f->Wait(1000));
  EXPECT_EQ(f->status(), 0);
  ASSERT_EQ(manual_->Seen().size(), 1u);
  EXPECT_EQ(manual_->Seen()[0].op, Op::kFlush);
  ASSERT_TRUE(md->Resume());
}

TEST_F(DelayTest, KeepsSubmissionOrder) {
  auto md = Device("0 100 delay manual 0 30");
  std::vector<std::unique_ptr<test::TestIo>> ios;
  for (uint8_t i = 1; i <= 20; ++i) {
    ios.push_back(test::TestIo::Write(i, 1, i));
    md->Submit(ios.back()->bio());
  }
  for (auto& io : ios) ASSERT_TRUE(io->Wait());
  const auto seen = manual_->Seen();
  ASSERT_EQ(seen.size(), 20u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].first_byte, i + 1) << i;
}

TEST_F(DelayTest, SuspendReleasesHeldIoAndResumeDelaysAgain) {
  auto md = Device("0 100 delay rdev 0 60000");
  std::vector<std::unique_ptr<test::TestIo>> ios;
  for (int i = 0; i < 8; ++i) {
    ios.push_back(i % 2 ? test::TestIo::Write(i, 1, 0x11) : test::TestIo::Read(i, 1));
    md->Submit(ios.back()->bio());
  }
  EXPECT_EQ(Info(*md), "0 100 delay 4 4 0\n");
  const auto start = Clock::now();
  ASSERT_TRUE(md->Suspend());  // would take a minute if presuspend did not release
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(30));
  for (auto& io : ios) {
    ASSERT_TRUE(io->done());
    EXPECT_EQ(io->status(), 0);
  }
  // While suspended nothing is delayed (requests simply wait); after resume
  // requests are held again.
  ASSERT_TRUE(md->Resume());
  auto again = test::TestIo::Read(0, 1);
  md->Submit(again->bio());
  EXPECT_EQ(Info(*md), "0 100 delay 1 0 0\n");
  ASSERT_TRUE(md->Suspend());
  EXPECT_TRUE(again->done());
  ASSERT_TRUE(md->Resume());
}

TEST_F(DelayTest, DestroyingTheDeviceCompletesHeldIo) {
  auto io = test::TestIo::Read(0, 1);
  {
    auto md = Device("0 100 delay rdev 0 60000");
    md->Submit(io->bio());
  }
  EXPECT_TRUE(io->done());
  EXPECT_EQ(io->status(), 0);
}

}  // namespace
}  // namespace udm
