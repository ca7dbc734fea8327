// Tests for the mirror target: argument checks, table and status lines in
// dm-raid1's format, write fan-out, read balancing, leg failure with
// handle_errors (reads requeued to the survivor, writes kept), resync and
// its region locking, and the disk log across a table reload.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <fmt/core.h>

#include "support/manual_backend.h"
#include "support/test_io.h"
#include "support/test_resolver.h"
#include "udm/backends.h"
#include "udm/table.h"
#include "udm/targets/builtin.h"

namespace udm {
namespace {

using ::testing::HasSubstr;
using test::TestIo;

constexpr uint64_t kDevSectors = 4096;

// A RAM disk whose reads and/or writes can be made to fail with EIO, as a
// dying leg does.
class FailingBackend : public BlockDevice {
 public:
  FailingBackend(std::string name, uint64_t sectors) : memory_(std::move(name), sectors) {}
  void Submit(Bio* bio) override {
    if ((bio->op == Op::kRead && fail_reads_) || (bio->is_write_like() && fail_writes_)) {
      bio->Complete(-EIO);
      return;
    }
    memory_.Submit(bio);
  }
  uint64_t sectors() const override { return memory_.sectors(); }
  const std::string& name() const override { return memory_.name(); }
  MemoryBackend& memory() { return memory_; }
  std::atomic<bool> fail_reads_{false};
  std::atomic<bool> fail_writes_{false};

 private:
  MemoryBackend memory_;
};

std::vector<uint8_t> Pattern(uint64_t sectors, uint8_t seed) {
  std::vector<uint8_t> v(sectors << kSectorShift);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 9));
  return v;
}

class MirrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) {
      legs_.push_back(std::make_shared<FailingBackend>(fmt::format("leg{}", i), kDevSectors));
      resolver_.Add(legs_.back());
    }
    log_ = std::make_shared<MemoryBackend>("log", 64);
    resolver_.Add(log_);
  }

  Result<std::unique_ptr<Table>> Load(std::string_view text) {
    return Table::FromText(text, BuiltinTargets(),
                           TableOptions{true, &resolver_, [this] { ++events_; }});
  }
  std::string LoadError(std::string_view text) {
    auto table = Load(text);
    return table ? "(loaded)" : table.error().message;
  }
  std::unique_ptr<MappedDevice> Make(const std::string& table) {
    auto md = test::MakeDevice(table, resolver_);
    EXPECT_NE(md, nullptr) << LoadError(table);
    return md;
  }
  static std::string Status(const MappedDevice& md) {
    return md.TableText(false, StatusType::kInfo).value_or("");
  }
  // Waits until the status line contains `what`.
  static bool WaitStatus(const MappedDevice& md, const std::string& what, int timeout_ms = 10000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Status(md).find(what) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  // Two legs "ma" and "mb" that complete at once and record what they saw.
  std::pair<std::shared_ptr<test::ManualBackend>, std::shared_ptr<test::ManualBackend>>
  AddRecordingLegs() {
    auto a = std::make_shared<test::ManualBackend>("ma", kDevSectors);
    auto b = std::make_shared<test::ManualBackend>("mb", kDevSectors);
    for (const auto& d : {a, b}) {
      d->SetPassThrough(true);
      resolver_.Add(d);
    }
    return {a, b};
  }
  static int Run(MappedDevice& md, TestIo& io) {
    md.Submit(io.bio());
    EXPECT_TRUE(io.Wait());
    return io.status();
  }

  test::TestResolver resolver_;
  std::vector<std::shared_ptr<FailingBackend>> legs_;
  std::shared_ptr<MemoryBackend> log_;
  std::atomic<int> events_{0};
};

TEST_F(MirrorTest, RefusesBadArgumentsNamingTheField) {
  const std::string p = "0 2048 mirror ";
  EXPECT_THAT(LoadError(p + "core"), HasSubstr("<log type> <#log args>"));
  EXPECT_THAT(LoadError(p + "bogus 1 256 2 leg0 0 leg1 0"), HasSubstr("log type: 'bogus'"));
  EXPECT_THAT(LoadError(p + "core x 256 2 leg0 0 leg1 0"), HasSubstr("#log args"));
  EXPECT_THAT(LoadError(p + "core 9 256 2 leg0 0 leg1 0"), HasSubstr("#log args: 9 given"));
  EXPECT_THAT(LoadError(p + "core 0 2 leg0 0 leg1 0"), HasSubstr("core takes <region size>"));
  EXPECT_THAT(LoadError(p + "core 1 100 2 leg0 0 leg1 0"), HasSubstr("region size: 100"));
  EXPECT_THAT(LoadError(p + "core 1 4096 2 leg0 0 leg1 0"), HasSubstr("larger than the target"));
  EXPECT_THAT(LoadError(p + "core 2 256 maybe 2 leg0 0 leg1 0"), HasSubstr("'maybe'"));
  EXPECT_THAT(LoadError(p + "disk 1 256 2 leg0 0 leg1 0"), HasSubstr("disk takes <log device>"));
  EXPECT_THAT(LoadError(p + "disk 2 nolog 256 2 leg0 0 leg1 0"), HasSubstr("log device"));
  EXPECT_THAT(LoadError(p + "core 1 256"), HasSubstr("#mirrors: missing"));
  EXPECT_THAT(LoadError(p + "core 1 256 1 leg0 0"), HasSubstr("#mirrors: 1 is not between 2"));
  EXPECT_THAT(LoadError(p + "core 1 256 10 leg0 0"), HasSubstr("#mirrors: 10"));
  EXPECT_THAT(LoadError(p + "core 1 256 2 leg0 0"), HasSubstr("too few mirror arguments"));
  EXPECT_THAT(LoadError(p + "core 1 256 2 leg0 0 leg1 z"), HasSubstr("mirror 1 offset"));
  EXPECT_THAT(LoadError(p + "core 1 256 2 leg0 0 nope 0"), HasSubstr("mirror 1"));
  EXPECT_THAT(LoadError(p + "core 1 256 2 leg0 0 leg1 3000"), HasSubstr("too small"));
  EXPECT_THAT(LoadError(p + "core 1 256 2 leg0 0 leg1 0 2 handle_errors"),
              HasSubstr("#features: 2 given"));
  EXPECT_THAT(LoadError(p + "core 1 256 2 leg0 0 leg1 0 1 handle_errors junk"),
              HasSubstr("too many arguments"));
  EXPECT_THAT(LoadError(p + "core 1 256 2 leg0 0 leg1 0 1 fast"), HasSubstr("feature: 'fast'"));
  EXPECT_THAT(LoadError(p + "core 1 256 2 leg0 0 leg1 0 1 keep_log"),
              HasSubstr("keep_log requires handle_errors"));
  auto small_log = std::make_shared<MemoryBackend>("tiny", 4);
  resolver_.Add(small_log);
  EXPECT_THAT(LoadError(p + "disk 2 tiny 256 2 leg0 0 leg1 0"), HasSubstr("log device: device tiny too small"));
}

TEST_F(MirrorTest, TableAndStatusLinesFollowDmRaid1) {
  const std::string lines[] = {
      "0 2048 mirror core 1 256 2 leg0 0 leg1 8\n",
      "0 2048 mirror core 2 256 nosync 2 leg0 0 leg1 0 1 handle_errors\n",
      "0 2048 mirror disk 3 log 512 sync 2 leg1 16 leg0 0 2 handle_errors keep_log\n",
      "0 2048 mirror disk 2 log 256 2 leg0 0 leg1 0\n",
  };
  for (const std::string& text : lines) {
    auto table = Load(text);
    ASSERT_TRUE(table) << text << table.error().message;
    EXPECT_EQ((*table)->Text(StatusType::kTable), text);
  }
  // Not yet resumed: nothing known to be in sync.
  auto table = Load(lines[3]);
  EXPECT_EQ((*table)->Text(StatusType::kInfo), "0 2048 mirror 2 leg0 leg1 0/8 1 AA 3 disk log A\n");

  auto md = Make("0 2048 mirror core 2 256 nosync 2 leg0 0 leg1 0");
  EXPECT_EQ(Status(*md), "0 2048 mirror 2 leg0 leg1 8/8 1 AA 1 core\n");
}

TEST_F(MirrorTest, WritesGoToEveryLegAndFlushesToo) {
  auto [a, b] = AddRecordingLegs();
  auto md = Make("0 2048 mirror core 2 256 nosync 2 ma 0 mb 100");
  auto w = TestIo::Write(300, 16, 0x5a, kFua);
  ASSERT_EQ(Run(*md, *w), 0);
  EXPECT_EQ(a->memory().Read(300, 16), w->data());
  EXPECT_EQ(b->memory().Read(400, 16), w->data());
  EXPECT_TRUE(b->Seen().back().flags & kFua);
  auto f = TestIo::Flush();
  ASSERT_EQ(Run(*md, *f), 0);
  EXPECT_EQ(a->Seen().back().op, Op::kFlush);
  EXPECT_EQ(b->Seen().back().op, Op::kFlush);
}

TEST_F(MirrorTest, ReadsAreBalancedOverTheLegs) {
  auto [a, b] = AddRecordingLegs();
  auto md = Make("0 2048 mirror core 2 256 nosync 2 ma 0 mb 0");
  for (int i = 0; i < 20; ++i) {
    auto r = TestIo::Read(static_cast<uint64_t>(i) * 8, 8);
    ASSERT_EQ(Run(*md, *r), 0);
  }
  auto reads = [](const test::ManualBackend& d) {
    size_t n = 0;
    for (const auto& s : d.Seen()) n += s.op == Op::kRead;
    return n;
  };
  EXPECT_EQ(reads(*a), 10u);
  EXPECT_EQ(reads(*b), 10u);
}

TEST_F(MirrorTest, FailedLegWithHandleErrorsIsHiddenFromTheUser) {
  auto md = Make("0 2048 mirror core 2 256 nosync 2 leg0 0 leg1 0 1 handle_errors");
  const auto data = Pattern(64, 3);
  legs_[0]->memory().Write(0, data);
  legs_[1]->memory().Write(0, data);

  // Reads from a leg that fails are requeued and served by the other one.
  legs_[0]->fail_reads_ = true;
  for (int i = 0; i < 4; ++i) {
    auto r = TestIo::Read(static_cast<uint64_t>(i) * 16, 16);
    ASSERT_EQ(Run(*md, *r), 0);
    EXPECT_TRUE(std::equal(r->data().begin(), r->data().end(), data.begin() + i * 16 * 512));
  }
  EXPECT_GE(md->Stats().requeues, 1u);
  EXPECT_THAT(Status(*md), HasSubstr(" 8/8 1 RA "));
  const uint64_t read_event = md->WaitEvent(0, 5000);
  EXPECT_GE(read_event, 1u);  // the leg's failure, raised off the I/O path

  // A write the other leg takes succeeds, marks the leg dead and its region
  // out of sync; an event tells watchers.
  legs_[1]->fail_writes_ = true;
  auto w = TestIo::Write(300, 8, 0x77);
  ASSERT_EQ(Run(*md, *w), 0);
  EXPECT_EQ(legs_[0]->memory().Read(300, 8), w->data());
  EXPECT_THAT(Status(*md), HasSubstr(" 7/8 1 RD "));
  EXPECT_GT(md->WaitEvent(read_event, 5000), read_event);

  // Both legs failing a write: that one is an error.
  legs_[0]->fail_writes_ = true;
  auto w2 = TestIo::Write(600, 8, 0x78);
  EXPECT_EQ(Run(*md, *w2), -EIO);
}

TEST_F(MirrorTest, WithoutHandleErrorsAWriteOnOneLegStillSucceeds) {
  auto md = Make("0 2048 mirror core 2 256 nosync 2 leg0 0 leg1 0");
  legs_[1]->fail_writes_ = true;
  auto w = TestIo::Write(0, 8, 0x11);
  ASSERT_EQ(Run(*md, *w), 0);
  EXPECT_THAT(Status(*md), HasSubstr(" 7/8 1 AD "));
  EXPECT_EQ(md->WaitEvent(0, 100), 0u);  // events only with handle_errors
}

TEST_F(MirrorTest, ResyncCopiesTheDefaultLegAndReportsProgress) {
  const auto data = Pattern(2048, 9);
  legs_[0]->memory().Write(0, data);
  auto md = Make("0 2048 mirror core 1 256 2 leg0 0 leg1 0");
  ASSERT_TRUE(WaitStatus(*md, " 8/8 1 AA 1 core")) << Status(*md);
  EXPECT_EQ(legs_[1]->memory().Read(0, 2048), data);
}

TEST_F(MirrorTest, WriteToARegionBeingResyncedWaitsForTheCopy) {
  auto b = std::make_shared<test::ManualBackend>("mb", kDevSectors);
  resolver_.Add(b);
  legs_[0]->memory().Write(0, Pattern(256, 1));
  auto md = Make("0 2048 mirror core 1 256 2 leg0 0 mb 0");
  ASSERT_TRUE(b->WaitHeld(1));  // the copy of region 0 to mb
  EXPECT_EQ(b->Held()[0].sector, 0u);

  auto w = TestIo::Write(8, 8, 0xee);
  md->Submit(w->bio());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(w->done());
  EXPECT_EQ(legs_[0]->memory().Read(8, 1)[0], Pattern(256, 1)[8 * 512]);  // not yet written

  b->SetPassThrough(true);
  b->ReleaseAll();
  ASSERT_TRUE(w->Wait());
  EXPECT_EQ(w->status(), 0);
  ASSERT_TRUE(WaitStatus(*md, " 8/8 "));
  // The write landed after the copy on both legs.
  EXPECT_EQ(legs_[0]->memory().Read(8, 8), w->data());
  EXPECT_EQ(b->memory().Read(8, 8), w->data());
}

TEST_F(MirrorTest, ResyncStopsOnSuspendAndContinuesOnResume) {
  auto b = std::make_shared<test::ManualBackend>("mb", kDevSectors);
  resolver_.Add(b);
  legs_[0]->memory().Write(0, Pattern(2048, 4));
  auto md = Make("0 2048 mirror core 1 256 2 leg0 0 mb 0");
  ASSERT_TRUE(b->WaitHeld(1));  // copying region 0

  // Suspend waits for the region being copied, then no copy runs.
  std::atomic<bool> suspended{false};
  std::thread suspender([&] {
    EXPECT_TRUE(md->Suspend());
    suspended = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(suspended.load());
  b->SetPassThrough(true);
  b->ReleaseAll();
  suspender.join();
  const size_t seen = b->Seen().size();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(b->Seen().size(), seen);
  EXPECT_THAT(Status(*md), HasSubstr(" 1/8 1 AA "));

  ASSERT_TRUE(md->Resume());
  ASSERT_TRUE(WaitStatus(*md, " 8/8 1 AA ")) << Status(*md);
  EXPECT_EQ(b->memory().Read(0, 2048), legs_[0]->memory().Read(0, 2048));
}

TEST_F(MirrorTest, FailedLogDeviceShowsAndKeepLogRefusesUntrackedWrites) {
  auto bad_log = std::make_shared<FailingBackend>("flog", 64);
  bad_log->fail_writes_ = true;
  resolver_.Add(bad_log);
  auto loose = Make("0 2048 mirror disk 3 flog 256 nosync 2 leg0 0 leg1 0 1 handle_errors");
  auto w = TestIo::Write(0, 8, 0x21);
  EXPECT_EQ(Run(*loose, *w), 0);  // the data still reaches both legs
  EXPECT_EQ(legs_[1]->memory().Read(0, 8), w->data());
  EXPECT_THAT(Status(*loose), HasSubstr(" 3 disk flog D"));
  loose.reset();

  auto strict =
      Make("0 2048 mirror disk 3 flog 256 nosync 2 leg0 0 leg1 0 2 handle_errors keep_log");
  auto w2 = TestIo::Write(512, 8, 0x22);
  EXPECT_EQ(Run(*strict, *w2), -EIO);
}

TEST_F(MirrorTest, DiskLogKeepsSyncStateAcrossAReload) {
  const std::string table = "0 2048 mirror disk 2 log 256 2 leg0 0 leg1 0 1 handle_errors";
  legs_[0]->memory().Write(0, Pattern(2048, 5));
  auto md = Make(table);
  ASSERT_TRUE(WaitStatus(*md, " 8/8 1 AA 3 disk log A")) << Status(*md);
  // Region 3 falls out of sync while leg1 fails.
  legs_[1]->fail_writes_ = true;
  auto w = TestIo::Write(3 * 256 + 10, 4, 0x33);
  ASSERT_EQ(Run(*md, *w), 0);
  EXPECT_THAT(Status(*md), HasSubstr(" 7/8 1 AD "));
  legs_[1]->fail_writes_ = false;

  // Reload the same table: the old one records its log on suspend, the new
  // one reads it: only region 3 is dirty and gets copied.
  auto next = Load(table);
  ASSERT_TRUE(next);
  ASSERT_TRUE(md->Load(std::move(*next)));
  ASSERT_TRUE(md->Suspend());
  const auto header = log_->Read(0, 3);
  EXPECT_EQ(header[0], 0x72);  // "rRiM": dm-log's magic, little-endian
  EXPECT_EQ(header[1], 0x52);
  EXPECT_EQ(header[8], 8);     // regions
  EXPECT_EQ(header[1024], 0xff & ~(1u << 3));  // clean bits: all but region 3
  legs_[1]->memory().Write(0, Pattern(8, 99));  // changes only a clean region's copy
  ASSERT_TRUE(md->Resume());
  ASSERT_TRUE(WaitStatus(*md, " 8/8 1 AA 3 disk log A")) << Status(*md);
  EXPECT_EQ(legs_[1]->memory().Read(3 * 256, 256), legs_[0]->memory().Read(3 * 256, 256));
  // Clean regions were not copied again.
  EXPECT_EQ(legs_[1]->memory().Read(0, 8), Pattern(8, 99));
}

TEST_F(MirrorTest, CoreLogResyncsEverythingAfterAReload) {
  const std::string table = "0 2048 mirror core 1 256 2 leg0 0 leg1 0";
  legs_[0]->memory().Write(0, Pattern(2048, 5));
  auto md = Make(table);
  ASSERT_TRUE(WaitStatus(*md, " 8/8 "));
  legs_[1]->memory().Write(0, Pattern(8, 99));
  auto next = Load(table);
  ASSERT_TRUE(next);
  ASSERT_TRUE(md->Load(std::move(*next)));
  ASSERT_TRUE(md->Resume());
  ASSERT_TRUE(WaitStatus(*md, " 8/8 "));
  EXPECT_EQ(legs_[1]->memory().Read(0, 2048), legs_[0]->memory().Read(0, 2048));
}

}  // namespace
}  // namespace udm
