// Tests for the error target: every request fails, flushes skip it, it
// takes no arguments, and it mixes with other targets in one table.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/test_resolver.h"
#include "udm/backends.h"
#include "udm/table.h"
#include "udm/targets/builtin.h"

namespace udm {
namespace {

using ::testing::HasSubstr;

void MustNotComplete(Bio*, int) { ADD_FAILURE() << "the error target completed a request itself"; }

class ErrorTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<Table>> Load(std::string_view text) {
    return Table::FromText(text, BuiltinTargets(), TableOptions{true, &resolver_, {}});
  }

  test::TestResolver resolver_;
};

TEST_F(ErrorTest, IsBuiltin) {
  const TargetType* type = BuiltinTargets().Find("error");
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->version.major, 1u);
  std::vector<std::string> names;
  for (const TargetType* t : BuiltinTargets().List()) names.emplace_back(t->name);
  EXPECT_THAT(names, ::testing::ElementsAre("delay", "dust", "error", "flakey", "linear", "log-writes",
                                           "mirror", "striped", "zero"));
}

TEST_F(ErrorTest, TableAndStatusHaveNoArguments) {
  auto table = Load("0 100 error");
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ((*table)->Text(StatusType::kTable), "0 100 error\n");
  EXPECT_EQ((*table)->Text(StatusType::kInfo), "0 100 error\n");
  EXPECT_TRUE((*table)->Devices().empty());
}

TEST_F(ErrorTest, RejectsArguments) {
  auto table = Load("0 100 error 1");
  ASSERT_FALSE(table);
  EXPECT_THAT(table.error().message, HasSubstr("line 1: error: takes no arguments, got 1"));
}

TEST_F(ErrorTest, KillsEveryRequest) {
  auto table = Load("0 50 zero\n50 100 error");
  ASSERT_TRUE(table) << table.error().message;
  Target& target = *(*table)->entry(1).target;
  for (Op op : {Op::kRead, Op::kWrite, Op::kDiscard, Op::kWriteZeroes, Op::kFlush}) {
    for (uint64_t sector : {50u, 99u, 149u}) {
      Bio bio;
      bio.op = op;
      bio.sector = sector;
      bio.sectors = op == Op::kFlush ? 0 : 1;
      bio.end_io = &MustNotComplete;
      EXPECT_EQ(target.Map(&bio), MapResult::kKill) << OpName(op) << " " << sector;
      EXPECT_EQ(bio.device, nullptr);
    }
  }
}

TEST_F(ErrorTest, FlushesSkipIt) {
  auto table = Load("0 100 error");
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ((*table)->entry(0).target->num_flush_bios(), 0u);
  EXPECT_EQ((*table)->entry(0).target->max_io_len(), 0u);
}

TEST_F(ErrorTest, MixedTableRoundTrips) {
  resolver_.Add(std::make_shared<NullBackend>("disk", 4096));
  const std::string text =
      "0 100 linear disk 0\n"
      "100 8 error\n"
      "108 64 striped 2 8 disk 200 disk 300\n"
      "172 28 zero\n";
  auto table = Load(text);
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ((*table)->Text(StatusType::kTable), text);
  EXPECT_EQ((*table)->Text(StatusType::kInfo),
            "0 100 linear\n100 8 error\n108 64 striped 2 disk disk 1 AA\n172 28 zero\n");
  EXPECT_EQ((*table)->Devices().size(), 1u);
}

}  // namespace
}  // namespace udm
