// Tests for the zero target: reads come back as zeros, writes vanish, every
// request completes successfully inside Map(), and it takes no arguments.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "support/test_resolver.h"
#include "udm/check.h"
#include "udm/table.h"
#include "udm/targets/builtin.h"

namespace udm {
namespace {

using ::testing::HasSubstr;

// Records the completions a bio receives.
struct Completions {
  int calls = 0;
  int status = 1;
};

void RecordCompletion(Bio* bio, int status) {
  auto* c = static_cast<Completions*>(bio->private_data);
  ++c->calls;
  c->status = status;
}

class ZeroTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<Table>> Load(std::string_view text) {
    return Table::FromText(text, BuiltinTargets(), TableOptions{true, &resolver_, {}});
  }

  Target& LoadTarget(std::string_view text) {
    auto table = Load(text);
    UDM_CHECK(table.has_value());
    table_ = std::move(*table);
    return *table_->entry(table_->num_targets() - 1).target;
  }

  test::TestResolver resolver_;
  std::unique_ptr<Table> table_;
};

TEST_F(ZeroTest, IsBuiltin) {
  const TargetType* type = BuiltinTargets().Find("zero");
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->version.major, 1u);
  EXPECT_EQ(type->version.minor, 2u);
}

TEST_F(ZeroTest, TableAndStatusHaveNoArguments) {
  auto table = Load("0 100 zero\n100   28 zero  # comment\n");
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ((*table)->Text(StatusType::kTable), "0 100 zero\n100 28 zero\n");
  EXPECT_EQ((*table)->Text(StatusType::kInfo), "0 100 zero\n100 28 zero\n");
  EXPECT_TRUE((*table)->Devices().empty());
}

TEST_F(ZeroTest, RejectsArguments) {
  auto table = Load("0 100 zero\n100 8 zero 0");
  ASSERT_FALSE(table);
  EXPECT_THAT(table.error().message, HasSubstr("line 2: zero: takes no arguments, got 1"));
  table = Load("0 100 zero mem0 0");
  ASSERT_FALSE(table);
  EXPECT_THAT(table.error().message, HasSubstr("takes no arguments, got 2"));
}

TEST_F(ZeroTest, ReadReturnsZerosAndCompletes) {
  Target& target = LoadTarget("0 64 zero\n64 64 zero");
  // A 3-sector read into the middle of a two-piece buffer.
  std::vector<uint8_t> a(1000, 0xAB), b(1000, 0xCD);
  iovec iov[] = {{a.data(), a.size()}, {b.data(), b.size()}};
  Completions done;
  Bio bio;
  bio.op = Op::kRead;
  bio.sector = 70;
  bio.sectors = 3;
  bio.iov = iov;
  bio.iov_count = 2;
  bio.iov_offset = 100;
  bio.end_io = &RecordCompletion;
  bio.private_data = &done;
  ASSERT_EQ(target.Map(&bio), MapResult::kSubmitted);
  EXPECT_EQ(done.calls, 1);
  EXPECT_EQ(done.status, 0);
  // Bytes [100, 1636) of the payload are zero, the rest untouched.
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], i < 100 ? 0xAB : 0) << i;
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(b[i], i < 636 ? 0 : 0xCD) << i;
}

TEST_F(ZeroTest, WritesAreDroppedAndComplete) {
  Target& target = LoadTarget("0 64 zero");
  for (Op op : {Op::kWrite, Op::kDiscard, Op::kWriteZeroes}) {
    std::vector<uint8_t> data(4096, 0x5A);
    iovec iov{data.data(), data.size()};
    Completions done;
    Bio bio;
    bio.op = op;
    bio.flags = op == Op::kWrite ? uint32_t{kFua} : 0u;
    bio.sector = 8;
    bio.sectors = 8;
    if (op == Op::kWrite) {
      bio.iov = &iov;
      bio.iov_count = 1;
    }
    bio.end_io = &RecordCompletion;
    bio.private_data = &done;
    ASSERT_EQ(target.Map(&bio), MapResult::kSubmitted) << OpName(op);
    EXPECT_EQ(done.calls, 1) << OpName(op);
    EXPECT_EQ(done.status, 0) << OpName(op);
    EXPECT_EQ(data, std::vector<uint8_t>(4096, 0x5A)) << OpName(op);
    EXPECT_EQ(bio.device, nullptr);
  }
}

TEST_F(ZeroTest, NeedsNoFlushAndNoSplit) {
  Target& target = LoadTarget("0 64 zero");
  EXPECT_EQ(target.num_flush_bios(), 0u);
  EXPECT_EQ(target.max_io_len(), 0u);
}

}  // namespace
}  // namespace udm
