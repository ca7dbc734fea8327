// Tests for the dust target: dm-dust's table and status lines, every
// message and its reply, argument errors, and bad-block semantics (reads
// fail once enabled, a write heals the block, write-fail counts).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "target_test_util.h"
#include "udm/backends.h"

namespace udm {
namespace {

using ::testing::HasSubstr;

class DustTest : public test::TargetTestBase {
 protected:
  void SetUp() override {
    mem_ = std::make_shared<MemoryBackend>("mem", 1024);  // 128 blocks of 4 KiB
    resolver_.Add(mem_);
  }
  std::unique_ptr<MappedDevice> Device(const std::string& args = "0 4096") {
    auto md = test::MakeDevice("0 1024 dust mem " + args, resolver_);
    EXPECT_NE(md, nullptr) << args;
    return md;
  }
  static std::string Info(MappedDevice& md) { return *md.TableText(false, StatusType::kInfo); }
  int Read(MappedDevice& md, uint64_t sector, uint64_t sectors) {
    auto io = test::TestIo::Read(sector, sectors);
    return Run(md, *io);
  }
  int Write(MappedDevice& md, uint64_t sector, uint64_t sectors) {
    auto io = test::TestIo::Write(sector, sectors, 0x77);
    return Run(md, *io);
  }

  std::shared_ptr<MemoryBackend> mem_;
};

TEST_F(DustTest, TableAndStatusLinesMatchDmDust) {
  EXPECT_EQ(Line("0 1024 dust mem 0 4096", StatusType::kTable), "0 1024 dust mem 0 4096\n");
  EXPECT_EQ(Line("0 1000 dust mem 24 512", StatusType::kTable), "0 1000 dust mem 24 512\n");
  auto md = Device();
  EXPECT_EQ(Info(*md), "0 1024 dust mem bypass verbose\n");
  EXPECT_EQ(Msg(*md, {"enable"}), "");
  EXPECT_EQ(Info(*md), "0 1024 dust mem fail_read_on_bad_block verbose\n");
  EXPECT_EQ(Msg(*md, {"quiet"}), "");
  EXPECT_EQ(Info(*md), "0 1024 dust mem fail_read_on_bad_block quiet\n");
  EXPECT_EQ(Msg(*md, {"quiet"}), "");
  EXPECT_EQ(Msg(*md, {"disable"}), "");
  EXPECT_EQ(Info(*md), "0 1024 dust mem bypass verbose\n");
}

TEST_F(DustTest, RejectsBadArguments) {
  EXPECT_THAT(LoadError("0 1024 dust mem 0"), HasSubstr("expected 3 arguments <dev> <offset> <blksz>, got 2"));
  EXPECT_THAT(LoadError("0 1024 dust mem 0 512 1"), HasSubstr("got 4"));
  EXPECT_THAT(LoadError("0 1024 dust mem 0 0"), HasSubstr("blksz: 0 is out of range [512,"));
  EXPECT_THAT(LoadError("0 1024 dust mem 0 256"), HasSubstr("blksz: 256 is out of range"));
  EXPECT_THAT(LoadError("0 1024 dust mem 0 1000"), HasSubstr("blksz: 1000 is not a power of 2"));
  EXPECT_THAT(LoadError("0 1024 dust mem 0 2147483648"), HasSubstr("blksz: 2147483648 is out of range"));
  EXPECT_THAT(LoadError("0 4 dust mem 0 4096"), HasSubstr("larger than the target"));
  EXPECT_THAT(LoadError("0 1024 dust mem k 512"), HasSubstr("offset: 'k'"));
  EXPECT_THAT(LoadError("0 1024 dust nosuch 0 512"), HasSubstr("'nosuch' not found"));
}

TEST_F(DustTest, MessagesReplyLikeDmDust) {
  auto md = Device();
  EXPECT_EQ(Msg(*md, {"countbadblocks"}), "countbadblocks: 0 badblock(s) found");
  EXPECT_EQ(Msg(*md, {"listbadblocks"}), "No blocks in badblocklist");
  EXPECT_EQ(Msg(*md, {"clearbadblocks"}), "dust_clear_badblocks: no badblocks found");
  EXPECT_EQ(Msg(*md, {"addbadblock", "60"}), "");
  EXPECT_EQ(Msg(*md, {"addbadblock", "67"}), "");
  EXPECT_EQ(Msg(*md, {"AddBadBlock", "72", "3"}), "");
  EXPECT_EQ(Msg(*md, {"queryblock", "60"}), "dust_query_block: block 60 found in badblocklist");
  EXPECT_EQ(Msg(*md, {"queryblock", "61"}),
            "dust_query_block: block 61 not found in badblocklist");
  EXPECT_EQ(Msg(*md, {"countbadblocks"}), "countbadblocks: 3 badblock(s) found");
  EXPECT_EQ(Msg(*md, {"listbadblocks"}), "60\n67\n72\n");
  EXPECT_EQ(Msg(*md, {"removebadblock", "67"}), "");
  EXPECT_EQ(Msg(*md, {"countbadblocks"}), "countbadblocks: 2 badblock(s) found");
  EXPECT_EQ(Msg(*md, {"clearbadblocks"}), "dust_clear_badblocks: badblocks cleared");
  EXPECT_EQ(Msg(*md, {"countbadblocks"}), "countbadblocks: 0 badblock(s) found");
}

TEST_F(DustTest, RejectsBadMessages) {
  auto md = Device();
  ASSERT_EQ(Msg(*md, {"addbadblock", "5"}), "");
  EXPECT_EQ(Msg(*md, {"addbadblock", "5"}), "error: block 5 already in badblocklist");
  EXPECT_EQ(Msg(*md, {"removebadblock", "6"}), "error: block 6 not found in badblocklist");
  EXPECT_EQ(Msg(*md, {"addbadblock"}), "error: addbadblock requires an additional argument");
  EXPECT_EQ(Msg(*md, {"queryblock"}), "error: queryblock requires an additional argument");
  EXPECT_THAT(Msg(*md, {"addbadblock", "x"}), HasSubstr("block: 'x' is not an unsigned"));
  EXPECT_THAT(Msg(*md, {"addbadblock", "128"}),
              HasSubstr("selected block value 128 out of range (device has 128 blocks)"));
  EXPECT_THAT(Msg(*md, {"addbadblock", "7", "256"}),
              HasSubstr("write fail count: 256 is out of range [0, 255]"));
  EXPECT_THAT(Msg(*md, {"queryblock", "7", "1"}), HasSubstr("invalid number of arguments '3'"));
  EXPECT_THAT(Msg(*md, {"addbadblock", "1", "2", "3"}), HasSubstr("invalid number of arguments"));
  EXPECT_THAT(Msg(*md, {"frobnicate"}), HasSubstr("unrecognized message 'frobnicate' received"));
  EXPECT_THAT(Msg(*md, {"frobnicate", "1"}), HasSubstr("unrecognized message 'frobnicate'"));
  EXPECT_EQ(Msg(*md, {"countbadblocks"}), "countbadblocks: 1 badblock(s) found");  // unchanged
}

TEST_F(DustTest, BadBlocksFailReadsOnlyWhenEnabled) {
  auto md = Device();
  ASSERT_EQ(Msg(*md, {"addbadblock", "2"}), "");
  EXPECT_EQ(Read(*md, 16, 8), 0);  // bypass: bad blocks are ignored
  ASSERT_EQ(Msg(*md, {"enable"}), "");
  EXPECT_EQ(Read(*md, 16, 8), -EIO);
  EXPECT_EQ(Read(*md, 23, 1), -EIO);
  EXPECT_EQ(Read(*md, 8, 24), -EIO);  // spans blocks 1..3
  EXPECT_EQ(Read(*md, 8, 8), 0);
  EXPECT_EQ(Read(*md, 24, 8), 0);
  ASSERT_EQ(Msg(*md, {"disable"}), "");
  EXPECT_EQ(Read(*md, 16, 8), 0);
  EXPECT_EQ(Msg(*md, {"countbadblocks"}), "countbadblocks: 1 badblock(s) found");
}

TEST_F(DustTest, WriteHealsABadBlock) {
  auto md = Device();
  ASSERT_EQ(Msg(*md, {"addbadblock", "2"}), "");
  ASSERT_EQ(Msg(*md, {"enable"}), "");
  EXPECT_EQ(Read(*md, 16, 1), -EIO);
  EXPECT_EQ(Write(*md, 17, 1), 0);  // one sector of the block is enough
  EXPECT_EQ(mem_->Read(17, 1)[0], 0x77);
  EXPECT_EQ(Read(*md, 16, 8), 0);
  EXPECT_EQ(Msg(*md, {"queryblock", "2"}), "dust_query_block: block 2 not found in badblocklist");
}

TEST_F(DustTest, WriteFailCountFailsThatManyWritesFirst) {
  auto md = Device();
  ASSERT_EQ(Msg(*md, {"addbadblock", "5", "2"}), "");
  ASSERT_EQ(Msg(*md, {"enable"}), "");
  EXPECT_EQ(Write(*md, 40, 8), -EIO);
  EXPECT_EQ(Write(*md, 40, 8), -EIO);
  EXPECT_EQ(mem_->Read(40, 1)[0], 0);
  EXPECT_EQ(Read(*md, 40, 8), -EIO);
  EXPECT_EQ(Write(*md, 40, 8), 0);
  EXPECT_EQ(Read(*md, 40, 8), 0);
}

TEST_F(DustTest, BlocksCountOnTheUnderlyingDevice) {
  // With offset 8 (one 4 KiB block), table sector 0 is device block 1.
  auto md = test::MakeDevice("0 1000 dust mem 8 4096", resolver_);
  ASSERT_NE(md, nullptr);
  ASSERT_EQ(Msg(*md, {"addbadblock", "1"}), "");
  ASSERT_EQ(Msg(*md, {"enable"}), "");
  EXPECT_EQ(Read(*md, 0, 1), -EIO);
  EXPECT_EQ(Read(*md, 8, 1), 0);
}

}  // namespace
}  // namespace udm
