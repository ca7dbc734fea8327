// Tests for the flakey target: dm-flakey's table lines and argument errors,
// the up/down cycle counted from table load, and each feature's effect on
// reads, writes and flushes while down.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <fmt/core.h>

#include "target_test_util.h"
#include "udm/backends.h"

namespace udm {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

class FlakeyTest : public test::TargetTestBase {
 protected:
  void SetUp() override {
    mem_ = std::make_shared<MemoryBackend>("mem", 1000);
    resolver_.Add(mem_);
    std::vector<uint8_t> pattern(512 * 8);
    for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 7 + 1);
    mem_->Write(0, pattern);
    pattern_ = pattern;
  }
  std::unique_ptr<MappedDevice> Device(const std::string& args) {
    auto md = test::MakeDevice("0 100 flakey mem " + args, resolver_);
    EXPECT_NE(md, nullptr) << args;
    return md;
  }
  // Reads sectors [0, 8) through `md`: status and data.
  std::pair<int, std::vector<uint8_t>> ReadAll(MappedDevice& md) {
    auto io = test::TestIo::Read(0, 8);
    const int st = Run(md, *io);
    return {st, io->data()};
  }
  int WriteOne(MappedDevice& md, uint64_t sector, uint8_t fill) {
    auto io = test::TestIo::Write(sector, 1, fill);
    return Run(md, *io);
  }
  int Flush(MappedDevice& md) {
    auto io = test::TestIo::Flush();
    return Run(md, *io);
  }

  std::shared_ptr<MemoryBackend> mem_;
  std::vector<uint8_t> pattern_;
};

TEST_F(FlakeyTest, TableLinesMatchDmFlakey) {
  auto line = [&](const std::string& args) {
    return Line("0 100 flakey mem " + args, StatusType::kTable);
  };
  EXPECT_EQ(line("0 180 0"), "0 100 flakey mem 0 180 0 2 error_reads error_writes\n");
  EXPECT_EQ(line("3 0 180 1 drop_writes"), "0 100 flakey mem 3 0 180 1 drop_writes\n");
  EXPECT_EQ(line("0 0 180 1 error_writes"), "0 100 flakey mem 0 0 180 1 error_writes\n");
  EXPECT_EQ(line("0 5 5 2 ERROR_WRITES error_reads"),
            "0 100 flakey mem 0 5 5 2 error_reads error_writes\n");
  EXPECT_EQ(line("0 1 2 5 corrupt_bio_byte 32 r 1 0"),
            "0 100 flakey mem 0 1 2 5 corrupt_bio_byte 32 r 1 0\n");
  EXPECT_EQ(line("0 1 2 7 drop_writes corrupt_bio_byte 1 r 255 2 error_reads"),
            "0 100 flakey mem 0 1 2 7 error_reads drop_writes corrupt_bio_byte 1 r 255 2\n");
  EXPECT_EQ(line("0 1 2 4 random_write_corrupt 10 random_read_corrupt 1000000000"),
            "0 100 flakey mem 0 1 2 4 random_read_corrupt 1000000000 random_write_corrupt 10\n");
  EXPECT_EQ(Line("0 100 flakey mem 0 1 1", StatusType::kInfo), "0 100 flakey\n");
  // What the table prints loads back to the same table.
  const std::string printed = line("0 1 2 7 drop_writes corrupt_bio_byte 1 r 255 2 error_reads");
  EXPECT_EQ(Line(printed, StatusType::kTable), printed);
}

TEST_F(FlakeyTest, RejectsBadArguments) {
  auto err = [&](const std::string& args) { return LoadError("0 100 flakey mem " + args); };
  EXPECT_THAT(err("0 1"), HasSubstr("expected at least 4 arguments"));
  EXPECT_THAT(err("x 1 1"), HasSubstr("offset: 'x'"));
  EXPECT_THAT(err("0 -1 1"), HasSubstr("up interval: '-1'"));
  EXPECT_THAT(err("0 1 4294967296"), HasSubstr("down interval: 4294967296 is out of range"));
  EXPECT_THAT(err("0 0 0"), HasSubstr("total (up + down) interval is zero"));
  EXPECT_THAT(err("0 4294967295 1"), HasSubstr("overflows"));
  EXPECT_THAT(err("0 1 1 12"), HasSubstr("#features: 12 is out of range [0, 11]"));
  EXPECT_THAT(err("0 1 1 2 drop_writes"), HasSubstr("#features is 2 but 1 feature arguments"));
  EXPECT_THAT(err("0 1 1 1 drop_writes error_reads"), HasSubstr("#features is 1 but 2"));
  EXPECT_THAT(err("0 1 1 1 drop_reads"), HasSubstr("unknown feature 'drop_reads'"));
  EXPECT_THAT(err("0 1 1 2 drop_writes drop_writes"), HasSubstr("drop_writes duplicated"));
  EXPECT_THAT(err("0 1 1 2 drop_writes error_writes"),
              HasSubstr("drop_writes conflicts with feature error_writes"));
  EXPECT_THAT(err("0 1 1 3 corrupt_bio_byte 1 r"),
              HasSubstr("corrupt_bio_byte needs 4 parameters"));
  EXPECT_THAT(err("0 1 1 5 corrupt_bio_byte 0 r 1 0"),
              HasSubstr("corrupt_bio_byte <Nth byte>: 0 is out of range"));
  EXPECT_THAT(err("0 1 1 5 corrupt_bio_byte 1 x 1 0"),
              HasSubstr("corrupt_bio_byte <direction>: 'x' must be r or w"));
  EXPECT_THAT(err("0 1 1 5 corrupt_bio_byte 1 r 256 0"),
              HasSubstr("corrupt_bio_byte <value>: 256 is out of range [0, 255]"));
  EXPECT_THAT(err("0 1 1 5 corrupt_bio_byte 1 r 1 z"), HasSubstr("corrupt_bio_byte <flags>: 'z'"));
  EXPECT_THAT(err("0 1 1 6 drop_writes corrupt_bio_byte 1 w 1 0"),
              HasSubstr("drop_writes is incompatible with corrupt_bio_byte"));
  EXPECT_THAT(err("0 1 1 1 random_read_corrupt"),
              HasSubstr("random_read_corrupt needs a parameter"));
  EXPECT_THAT(err("0 1 1 2 random_write_corrupt 1000000001"),
              HasSubstr("random_write_corrupt <probability>: 1000000001 is out of range"));
  EXPECT_THAT(LoadError("0 100 flakey nosuch 0 1 1"), HasSubstr("'nosuch' not found"));
  EXPECT_THAT(LoadError("0 100 flakey mem 901 1 1"), HasSubstr("too small"));
}

TEST_F(FlakeyTest, UpIsLinear) {
  auto md = Device("0 180 0");
  auto [st, data] = ReadAll(*md);
  EXPECT_EQ(st, 0);
  EXPECT_EQ(data, pattern_);
  EXPECT_EQ(WriteOne(*md, 3, 0x33), 0);
  EXPECT_EQ(mem_->Read(3, 1)[0], 0x33);
  EXPECT_EQ(Flush(*md), 0);
}

TEST_F(FlakeyTest, DownWithoutFeaturesFailsEverything) {
  auto md = Device("0 0 180");
  EXPECT_EQ(ReadAll(*md).first, -EIO);
  EXPECT_EQ(WriteOne(*md, 3, 0x33), -EIO);
  EXPECT_EQ(mem_->Read(3, 1), std::vector<uint8_t>(pattern_.begin() + 3 * 512,
                                                   pattern_.begin() + 4 * 512));
  EXPECT_EQ(Flush(*md), -EIO);
}

TEST_F(FlakeyTest, DropWritesCompletesWritesWithoutWriting) {
  auto md = Device("0 0 180 1 drop_writes");
  EXPECT_EQ(WriteOne(*md, 3, 0x33), 0);
  EXPECT_EQ(mem_->Read(3, 1)[0], pattern_[3 * 512]);
  EXPECT_EQ(Flush(*md), 0);
  auto [st, data] = ReadAll(*md);
  EXPECT_EQ(st, 0);
  EXPECT_EQ(data, pattern_);
}

TEST_F(FlakeyTest, ErrorWritesFailsOnlyWrites) {
  auto md = Device("0 0 180 1 error_writes");
  EXPECT_EQ(WriteOne(*md, 3, 0x33), -EIO);
  EXPECT_EQ(mem_->Read(3, 1)[0], pattern_[3 * 512]);
  auto [st, data] = ReadAll(*md);
  EXPECT_EQ(st, 0);
  EXPECT_EQ(data, pattern_);
}

TEST_F(FlakeyTest, ErrorReadsFailsOnlyReads) {
  auto md = Device("0 0 180 1 error_reads");
  EXPECT_EQ(ReadAll(*md).first, -EIO);
  EXPECT_EQ(WriteOne(*md, 3, 0x33), 0);
  EXPECT_EQ(mem_->Read(3, 1)[0], 0x33);
  EXPECT_EQ(Flush(*md), 0);
}

TEST_F(FlakeyTest, CorruptsTheNthByteOfReads) {
  auto md = Device("0 0 180 5 corrupt_bio_byte 700 r 9 0");
  auto [st, data] = ReadAll(*md);
  ASSERT_EQ(st, 0);
  std::vector<uint8_t> expect = pattern_;
  expect[699] = 9;
  EXPECT_EQ(data, expect);
  EXPECT_EQ(mem_->Read(0, 8), pattern_);  // only what the reader saw
  EXPECT_EQ(WriteOne(*md, 3, 0x33), 0);   // writes pass untouched
  EXPECT_EQ(mem_->Read(3, 1), std::vector<uint8_t>(512, 0x33));
}

TEST_F(FlakeyTest, CorruptsWrittenDataButNotTheWritersBuffer) {
  auto md = Device("0 0 180 5 corrupt_bio_byte 3 w 9 0");
  auto io = test::TestIo::Write(2, 2, 0x44);
  ASSERT_EQ(Run(*md, *io), 0);
  EXPECT_EQ(io->data(), std::vector<uint8_t>(1024, 0x44));
  std::vector<uint8_t> expect(1024, 0x44);
  expect[2] = 9;
  EXPECT_EQ(mem_->Read(2, 2), expect);
  auto [st, data] = ReadAll(*md);  // reads pass untouched
  EXPECT_EQ(st, 0);
}

TEST_F(FlakeyTest, CorruptionHonoursTheFlagsMask) {
  // Only FUA writes are corrupted.
  auto md = Device(fmt::format("0 0 180 5 corrupt_bio_byte 1 w 9 {}", kFua));
  auto plain = test::TestIo::Write(1, 1, 0x55);
  ASSERT_EQ(Run(*md, *plain), 0);
  EXPECT_EQ(mem_->Read(1, 1)[0], 0x55);
  auto fua = test::TestIo::Write(2, 1, 0x55, kFua);
  ASSERT_EQ(Run(*md, *fua), 0);
  EXPECT_EQ(mem_->Read(2, 1)[0], 9);
}

TEST_F(FlakeyTest, RandomReadCorruptionChangesAtMostOneByte) {
  auto md = Device("0 0 180 2 random_read_corrupt 1000000000");
  int changed = 0;
  for (int i = 0; i < 16; ++i) {
    auto [st, data] = ReadAll(*md);
    ASSERT_EQ(st, 0);
    int diff = 0;
    for (size_t k = 0; k < data.size(); ++k) diff += data[k] != pattern_[k];
    EXPECT_LE(diff, 1);
    changed += diff;
  }
  EXPECT_GT(changed, 0);  // each read has a 255/256 chance of a visible change
  EXPECT_EQ(mem_->Read(0, 8), pattern_);
}

TEST_F(FlakeyTest, RandomWriteCorruptionChangesAtMostOneByte) {
  auto md = Device("0 0 180 2 random_write_corrupt 1000000000");
  int changed = 0;
  for (uint8_t i = 0; i < 16; ++i) {
    auto io = test::TestIo::Write(i, 1, 0x66);
    ASSERT_EQ(Run(*md, *io), 0);
    EXPECT_EQ(io->data(), std::vector<uint8_t>(512, 0x66));
    int diff = 0;
    for (uint8_t b : mem_->Read(i, 1)) diff += b != 0x66;
    EXPECT_LE(diff, 1);
    changed += diff;
  }
  EXPECT_GT(changed, 0);
}

TEST_F(FlakeyTest, CycleCountsFromTableLoad) {
  // Up for the first 2 s after load, then down (error_writes) for 2 s. The
  // target stamps its load somewhere between `before` and `after`: a phase
  // is only checked where both bounds agree on it.
  const auto before = Clock::now();
  auto md = Device("0 2 2 1 error_writes");
  const auto after = Clock::now();
  const int early = WriteOne(*md, 1, 0x11);
  if (Clock::now() - before < std::chrono::milliseconds(1900)) {
    EXPECT_EQ(early, 0);
  }
  std::this_thread::sleep_until(after + std::chrono::milliseconds(2300));
  const int late = WriteOne(*md, 1, 0x22);
  if (Clock::now() - before < std::chrono::milliseconds(3900)) {
    EXPECT_EQ(late, -EIO);
  }
  std::this_thread::sleep_until(after + std::chrono::milliseconds(4300));
  const int again = WriteOne(*md, 1, 0x33);
  if (Clock::now() - before < std::chrono::milliseconds(5900)) {
    EXPECT_EQ(again, 0);
  }
  // A new table starts its cycle afresh.
  auto reloaded = Table::FromText("0 100 flakey mem 0 0 5 1 error_writes", BuiltinTargets(),
                                  TableOptions{true, &resolver_, {}});
  ASSERT_TRUE(reloaded);
  ASSERT_TRUE(md->Load(std::move(*reloaded)));
  ASSERT_TRUE(md->Resume());
  EXPECT_EQ(WriteOne(*md, 1, 0x44), -EIO);
}

}  // namespace
}  // namespace udm
