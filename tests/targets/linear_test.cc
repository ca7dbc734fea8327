// Tests for the linear target: its table and status lines, every argument it
// rejects, and where Map() sends requests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "target_test_util.h"
#include "udm/backends.h"
#include "udm/table.h"
#include "udm/targets/builtin.h"

namespace udm {
namespace {

using ::testing::HasSubstr;

class LinearTest : public test::TargetTestBase {
 protected:
  void SetUp() override {
    mem0_ = std::make_shared<NullBackend>("mem0", 1000);
    mem1_ = std::make_shared<NullBackend>("mem1", 1ull << 40);
    resolver_.Add(mem0_);
    resolver_.Add(mem1_);
  }

  std::shared_ptr<NullBackend> mem0_, mem1_;
};

TEST_F(LinearTest, IsBuiltin) {
  const TargetType* type = BuiltinTargets().Find("linear");
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->version.major, 1u);
  EXPECT_EQ(type->version.minor, 4u);
  TargetRegistry fresh;
  RegisterBuiltinTargets(fresh);
  EXPECT_EQ(fresh.Find("linear"), type);
}

TEST_F(LinearTest, TableRoundTrips) {
  const std::string text = "0 100 linear mem0 0\n100 50 linear mem1 20\n150 8 linear mem0 992\n";
  auto table = Load(text);
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ((*table)->Text(StatusType::kTable), text);
  EXPECT_EQ((*table)->sectors(), 158u);
}

TEST_F(LinearTest, TableIsNormalised) {
  auto table = Load("# a comment\n0   100\tlinear  mem1   0042   # trailing\n");
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ((*table)->Text(StatusType::kTable), "0 100 linear mem1 42\n");
}

TEST_F(LinearTest, InfoStatusIsEmpty) {
  auto table = Load("0 100 linear mem0 0\n100 100 linear mem1 5\n");
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ((*table)->Text(StatusType::kInfo), "0 100 linear\n100 100 linear\n");
}

TEST_F(LinearTest, RejectsWrongArgumentCount) {
  EXPECT_THAT(LoadError("0 100 linear"), HasSubstr("expected 2 arguments <dev> <offset>, got 0"));
  EXPECT_THAT(LoadError("0 100 linear mem0"), HasSubstr("got 1"));
  EXPECT_THAT(LoadError("0 100 linear mem0 0 7"), HasSubstr("got 3"));
  EXPECT_THAT(LoadError("0 100 linear mem0 0 7"), HasSubstr("line 1: linear:"));
}

TEST_F(LinearTest, RejectsBadOffset) {
  for (const char* bad : {"abc", "-1", "+1", "12x", "0x10", "1.5"}) {
    std::string msg = LoadError(fmt::format("0 100 linear mem0 {}", bad));
    EXPECT_THAT(msg, HasSubstr("offset")) << bad;
    EXPECT_THAT(msg, HasSubstr(fmt::format("'{}'", bad))) << bad;
  }
}

TEST_F(LinearTest, RejectsOffsetOverflow) {
  std::string msg = LoadError("0 100 linear mem1 18446744073709551616");
  EXPECT_THAT(msg, HasSubstr("offset"));
  EXPECT_THAT(msg, HasSubstr("too large"));
  // Fits in 64 bits, but offset + length wraps: still too small, never wraps.
  msg = LoadError("0 100 linear mem1 18446744073709551615");
  EXPECT_THAT(msg, HasSubstr("too small"));
}

TEST_F(LinearTest, RejectsDeviceTooSmall) {
  EXPECT_TRUE(Load("0 1000 linear mem0 0"));
  EXPECT_TRUE(Load("0 1 linear mem0 999"));
  std::string msg = LoadError("0 1001 linear mem0 0");
  EXPECT_THAT(msg, HasSubstr("mem0"));
  EXPECT_THAT(msg, HasSubstr("too small"));
  EXPECT_THAT(LoadError("0 100 linear mem0 901"), HasSubstr("too small"));
  EXPECT_THAT(LoadError("0 1 linear mem0 1000"), HasSubstr("too small"));
}

TEST_F(LinearTest, RejectsUnknownDevice) {
  std::string msg = LoadError("0 100 linear mem0 0\n100 10 linear nosuch 0");
  EXPECT_THAT(msg, HasSubstr("line 2"));
  EXPECT_THAT(msg, HasSubstr("nosuch"));
  EXPECT_THAT(msg, HasSubstr("not found"));
}

TEST_F(LinearTest, MapsEverySectorOntoTheDevice) {
  auto table = Load("0 100 linear mem0 900\n100 300 linear mem1 123456789\n");
  ASSERT_TRUE(table) << table.error().message;
  struct Expect {
    BlockDevice* dev;
    uint64_t start, offset;
  };
  const Expect lines[] = {{mem0_.get(), 0, 900}, {mem1_.get(), 100, 123456789}};
  for (Op op : {Op::kRead, Op::kWrite, Op::kDiscard, Op::kWriteZeroes}) {
    for (uint64_t s = 0; s < 400; ++s) {
      const size_t i = (*table)->FindTarget(s);
      Target& target = *(*table)->entry(i).target;
      Bio bio;
      bio.op = op;
      bio.sector = s;
      bio.sectors = 1;
      ASSERT_EQ(target.Map(&bio), MapResult::kRemapped);
      EXPECT_EQ(bio.device, lines[i].dev) << s;
      EXPECT_EQ(bio.sector, lines[i].offset + (s - lines[i].start)) << s;
      EXPECT_EQ(bio.sectors, 1u);
    }
  }
}

TEST_F(LinearTest, MapsMultiSectorRequest) {
  auto table = Load("0 64 zero\n64 128 linear mem0 500\n");
  ASSERT_TRUE(table) << table.error().message;
  Target& target = *(*table)->entry(1).target;
  EXPECT_EQ(target.max_io_len(), 0u);  // linear never splits
  Bio bio;
  bio.op = Op::kWrite;
  bio.sector = 70;
  bio.sectors = 100;
  ASSERT_EQ(target.Map(&bio), MapResult::kRemapped);
  EXPECT_EQ(bio.device, mem0_.get());
  EXPECT_EQ(bio.sector, 506u);
  EXPECT_EQ(bio.sectors, 100u);
}

TEST_F(LinearTest, FlushGoesToTheDevice) {
  auto table = Load("0 10 linear mem1 0\n10 100 linear mem0 7\n");
  ASSERT_TRUE(table) << table.error().message;
  Target& target = *(*table)->entry(1).target;
  EXPECT_EQ(target.num_flush_bios(), 1u);
  Bio flush;
  flush.op = Op::kFlush;
  flush.flags = kPreflush;
  ASSERT_EQ(target.Map(&flush), MapResult::kRemapped);
  EXPECT_EQ(flush.device, mem0_.get());
  EXPECT_EQ(flush.sectors, 0u);
}

TEST_F(LinearTest, ListsItsDevices) {
  auto table = Load("0 10 linear mem1 0\n10 100 linear mem0 7\n110 5 linear mem1 50\n");
  ASSERT_TRUE(table) << table.error().message;
  std::vector<BlockDevice*> devices = (*table)->Devices();
  EXPECT_THAT(devices, ::testing::ElementsAre(mem1_.get(), mem0_.get()));
}

}  // namespace
}  // namespace udm
