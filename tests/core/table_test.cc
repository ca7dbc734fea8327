// Tests for the dmsetup table format: good tables round-trip through
// Table::Text(), every malformed table is refused with an error naming the
// line and the field, and a refused table leaves no device open.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/test_resolver.h"
#include "udm/backends.h"
#include "udm/table.h"
#include "udm/targets/builtin.h"

namespace udm::test {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class TableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mem0_ = std::make_shared<MemoryBackend>("mem0", 1000);
    mem1_ = std::make_shared<MemoryBackend>("mem1", 1000);
    resolver_.Add(mem0_);
    resolver_.Add(mem1_);
  }

  Result<std::unique_ptr<Table>> Load(std::string_view text) {
    return Table::FromText(text, BuiltinTargets(), TableOptions{true, &resolver_, {}});
  }

  // The error message of a table that must be refused.
  std::string LoadError(std::string_view text) {
    auto table = Load(text);
    if (table) return "(loaded: " + (*table)->Text(StatusType::kTable) + ")";
    return table.error().message;
  }

  // The canonical text of a table that must load.
  std::string Canonical(std::string_view text) {
    auto table = Load(text);
    if (!table) return "(refused: " + table.error().message + ")";
    return (*table)->Text(StatusType::kTable);
  }

  std::shared_ptr<MemoryBackend> mem0_, mem1_;
  TestResolver resolver_;
};

// --- ParseU64 ---------------------------------------------------------------

TEST_F(TableTest, ParseU64AcceptsTheWholeUnsignedRange) {
  EXPECT_EQ(ParseU64("0", "start").value(), 0u);
  EXPECT_EQ(ParseU64("42", "start").value(), 42u);
  EXPECT_EQ(ParseU64("18446744073709551615", "start").value(), UINT64_MAX);
}

TEST_F(TableTest, ParseU64RefusesAnythingButAnUnsignedDecimalAndNamesTheField) {
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "0x10", "1e3", "12a", "1.5"}) {
    SCOPED_TRACE(std::string("input '") + bad + "'");
    auto v = ParseU64(bad, "offset");
    ASSERT_FALSE(v.has_value());
    EXPECT_EQ(v.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(v.error().sys_errno, EINVAL);
    EXPECT_THAT(v.error().message, HasSubstr("offset"));
    if (*bad != '\0') {
      EXPECT_THAT(v.error().message, HasSubstr(std::string("'") + bad + "'"));
    }
  }
}

TEST_F(TableTest, ParseU64RefusesNumbersThatOverflow64Bits) {
  for (const char* big : {"18446744073709551616", "99999999999999999999999"}) {
    SCOPED_TRACE(big);
    auto v = ParseU64(big, "length");
    ASSERT_FALSE(v.has_value());
    EXPECT_THAT(v.error().message, AllOf(HasSubstr("length"), HasSubstr(big)));
  }
}

// --- Good tables ------------------------------------------------------------

TEST_F(TableTest, CanonicalTablesRoundTripThroughText) {
  const std::vector<std::string> tables = {
      "0 100 linear mem0 0\n",
      "0 1000 linear mem1 0\n",
      "0 18014398509481983 zero\n",
      "0 7 error\n",
      "0 64 striped 2 16 mem0 100 mem1 0\n",
      "0 96 striped 3 8 mem1 0 mem0 500 mem1 300\n",
      "0 100 linear mem0 0\n"
      "100 64 striped 2 16 mem0 100 mem1 0\n"
      "164 10 zero\n"
      "174 6 error\n"
      "180 500 linear mem1 500\n"
      "680 1 zero\n",
  };
  for (const std::string& text : tables) {
    SCOPED_TRACE(text);
    EXPECT_EQ(Canonical(text), text);
  }
}

TEST_F(TableTest, CommentsBlankLinesTabsAndCrlfAreIgnored) {
  const std::string messy =
      "# a volume made of everything\r\n"
      "\n"
      "0\t100   linear\tmem0 0 # the first part\r\n"
      "   \t \n"
      "100 64 striped 2 16 mem0 100 mem1 0\r\n"
      "  # indented comment\n"
      "164 10 zero #\n"
      "174 6 error";  // no final newline
  const std::string want =
      "0 100 linear mem0 0\n"
      "100 64 striped 2 16 mem0 100 mem1 0\n"
      "164 10 zero\n"
      "174 6 error\n";
  EXPECT_EQ(Canonical(messy), want);
  // The canonical text is itself a table that reads back the same.
  EXPECT_EQ(Canonical(want), want);

  // The parser keeps the source line numbers, so errors point at the file.
  auto lines = ParseTableText(messy);
  ASSERT_TRUE(lines.has_value()) << lines.error().message;
  ASSERT_EQ(lines->size(), 4u);
  EXPECT_EQ((*lines)[0].line_no, 3u);
  EXPECT_EQ((*lines)[1].line_no, 5u);
  EXPECT_EQ((*lines)[2].line_no, 7u);
  EXPECT_EQ((*lines)[3].line_no, 8u);
  EXPECT_EQ((*lines)[0].target, "linear");
  EXPECT_THAT((*lines)[0].args, ElementsAre("mem0", "0"));
  EXPECT_THAT((*lines)[1].args, ElementsAre("2", "16", "mem0", "100", "mem1", "0"));
  EXPECT_TRUE((*lines)[2].args.empty());
  EXPECT_EQ((*lines)[3].start, 174u);
  EXPECT_EQ((*lines)[3].length, 6u);
}

TEST_F(TableTest, TableSizeIsTheSumOfItsTargets) {
  auto table = Load("0 100 linear mem0 0\n100 64 striped 2 16 mem0 100 mem1 0\n164 10 zero\n");
  ASSERT_TRUE(table.has_value()) << table.error().message;
  EXPECT_EQ((*table)->sectors(), 174u);
  EXPECT_EQ((*table)->num_targets(), 3u);
  EXPECT_EQ((*table)->entry(1).type->name, "striped");
}

// A volume is a file: its size in bytes must fit in off_t.
TEST_F(TableTest, TheLargestVolumeIsTheLargestFile) {
  auto table = Load("0 18014398509481983 zero\n");
  ASSERT_TRUE(table.has_value()) << table.error().message;
  EXPECT_EQ((*table)->sectors(), kMaxTableSectors);
  EXPECT_EQ((*table)->sectors() * 512, uint64_t{INT64_MAX} - 511);
}

// --- Malformed tables -------------------------------------------------------

struct BadTable {
  const char* what;
  std::string text;
  std::vector<std::string> message_has;  // substrings the error must contain
};

TEST_F(TableTest, MalformedTablesAreRefusedNamingLineAndField) {
  const std::vector<BadTable> cases = {
      {"empty table", "", {"empty"}},
      {"only comments and blanks", "# nothing\n\n   # here\n\t\r\n", {"empty"}},
      {"first target not at 0", "5 100 zero\n", {"line 1", "start", "5"}},
      {"first target not at 0 after comments", "# c\n\n10 5 zero\n", {"line 3", "start", "10"}},
      {"gap", "0 100 zero\n150 10 zero\n", {"line 2", "start", "150", "gap"}},
      {"overlap", "0 100 zero\n50 10 zero\n", {"line 2", "start", "50", "overlap"}},
      {"zero length", "0 0 zero\n", {"line 1", "length"}},
      {"zero length later", "0 10 zero\n10 0 zero\n", {"line 2", "length"}},
      {"start not a number", "x 10 zero\n", {"line 1", "start", "'x'"}},
      {"length not a number", "0 1O zero\n", {"line 1", "length", "'1O'"}},
      {"negative start", "0 10 zero\n-10 5 zero\n", {"line 2", "start", "'-10'"}},
      {"negative length", "0 -10 zero\n", {"line 1", "length", "'-10'"}},
      {"signed length", "0 +10 zero\n", {"line 1", "length", "'+10'"}},
      {"hex length", "0 0x10 zero\n", {"line 1", "length", "'0x10'"}},
      {"start overflows 64 bits",
       "18446744073709551616 1 zero\n",
       {"line 1", "start", "18446744073709551616"}},
      {"length overflows 64 bits",
       "0 10 zero\n10 18446744073709551616 zero\n",
       {"line 2", "length", "18446744073709551616"}},
      {"start + length overflows",
       "0 18014398509481983 zero\n18014398509481983 18446744073709551615 zero\n",
       {"line 2", "length", "overflow"}},
      {"longer than the largest file",
       "0 18014398509481984 zero\n",
       {"line 1", "length", "18014398509481984", "largest volume"}},
      {"ends past the largest file",
       "0 18014398509481983 zero\n18014398509481983 1 zero\n",
       {"line 2", "length", "18014398509481984", "largest volume"}},
      {"missing length", "0 10 zero\n10\n", {"line 2", "length", "missing"}},
      {"missing length before a comment", "0 # 10 zero\n", {"line 1", "length", "missing"}},
      {"missing target type", "0 100\n", {"line 1", "target", "missing"}},
      {"unknown target type", "0 10 zero\n10 5 lineer mem0 0\n", {"line 2", "target", "'lineer'"}},
      {"CRLF line counting", "0 10 zero\r\n10 5 bogus\r\n", {"line 2", "'bogus'"}},
      {"NUL byte", std::string("0 10 zero\n10 5 ze\0ro\n", 21), {"line 2", "NUL"}},
  };
  for (const BadTable& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string msg = LoadError(c.text);
    for (const std::string& want : c.message_has) EXPECT_THAT(msg, HasSubstr(want));
  }
}

TEST_F(TableTest, WrongArgumentCountsOfEachBuiltinTargetAreRefused) {
  const std::vector<BadTable> cases = {
      {"linear without arguments", "0 10 linear\n", {"line 1", "linear", "got 0"}},
      {"linear without offset", "0 10 linear mem0\n", {"line 1", "linear", "got 1"}},
      {"linear with 3 arguments", "0 10 linear mem0 0 0\n", {"line 1", "linear", "got 3"}},
      {"striped without arguments", "0 16 striped\n", {"line 1", "striped", "got 0"}},
      {"striped without chunk size", "0 16 striped 2\n", {"line 1", "striped", "got 1"}},
      {"striped without devices", "0 16 striped 2 8\n", {"line 1", "striped", "not enough"}},
      {"striped with too few devices",
       "0 16 striped 2 8 mem0 0\n",
       {"line 1", "striped", "not enough"}},
      {"striped with a device missing its offset",
       "0 16 striped 2 8 mem0 0 mem1\n",
       {"line 1", "striped", "not enough"}},
      {"striped with too many devices",
       "0 16 striped 1 8 mem0 0 mem1 0\n",
       {"line 1", "striped", "too many"}},
      {"striped with a dangling argument",
       "0 16 striped 1 8 mem0 0 mem1\n",
       {"line 1", "striped", "too many"}},
      {"zero with an argument", "0 10 zero mem0\n", {"line 1", "zero", "got 1"}},
      {"error with arguments", "0 10 error mem0 0\n", {"line 1", "error", "got 2"}},
  };
  for (const BadTable& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string msg = LoadError(c.text);
    for (const std::string& want : c.message_has) EXPECT_THAT(msg, HasSubstr(want));
  }
}

TEST_F(TableTest, TargetErrorsOnTheThirdLineNameLineThree) {
  const std::string head = "0 100 zero\n100 100 linear mem0 0\n";
  const std::vector<BadTable> cases = {
      {"missing device", head + "200 100 linear nosuch 0\n", {"line 3", "linear", "nosuch"}},
      {"device too small", head + "200 2000 linear mem1 0\n", {"line 3", "linear", "too small"}},
      {"offset past the device", head + "200 10 linear mem1 995\n", {"line 3", "too small"}},
      {"offset not a number", head + "200 10 linear mem1 x\n", {"line 3", "offset", "'x'"}},
      {"chunk not a power of two",
       head + "200 96 striped 2 24 mem0 0 mem1 0\n",
       {"line 3", "striped", "chunk size", "24"}},
      {"length not divisible by stripes",
       head + "200 99 striped 2 8 mem0 0 mem1 0\n",
       {"line 3", "striped", "length", "99"}},
      {"second stripe missing",
       head + "200 16 striped 2 8 mem0 0 nosuch 0\n",
       {"line 3", "stripe 1", "nosuch"}},
      {"zero with an argument", head + "200 10 zero 1\n", {"line 3", "zero"}},
  };
  for (const BadTable& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string msg = LoadError(c.text);
    for (const std::string& want : c.message_has) EXPECT_THAT(msg, HasSubstr(want));
    EXPECT_THAT(msg, ::testing::Not(HasSubstr("line 1")));
    EXPECT_THAT(msg, ::testing::Not(HasSubstr("line 2")));
  }
}

TEST_F(TableTest, BuildChecksTheLayoutOfLinesItIsGiven) {
  const TableOptions opts{true, &resolver_, {}};
  auto empty = Table::Build({}, BuiltinTargets(), opts);
  ASSERT_FALSE(empty.has_value());
  EXPECT_THAT(empty.error().message, HasSubstr("empty"));

  std::vector<TableLine> gap = {{1, 0, 10, "zero", {}}, {2, 20, 10, "zero", {}}};
  auto with_gap = Table::Build(gap, BuiltinTargets(), opts);
  ASSERT_FALSE(with_gap.has_value());
  EXPECT_THAT(with_gap.error().message, AllOf(HasSubstr("line 2"), HasSubstr("start")));

  std::vector<TableLine> zero_len = {{4, 0, 0, "zero", {}}};
  auto with_zero = Table::Build(zero_len, BuiltinTargets(), opts);
  ASSERT_FALSE(with_zero.has_value());
  EXPECT_THAT(with_zero.error().message, HasSubstr("line 4"));

  std::vector<TableLine> wraps = {{1, 0, kMaxTableSectors, "zero", {}},
                                  {2, kMaxTableSectors, UINT64_MAX, "zero", {}}};
  auto with_wrap = Table::Build(wraps, BuiltinTargets(), opts);
  ASSERT_FALSE(with_wrap.has_value());
  EXPECT_THAT(with_wrap.error().message, HasSubstr("line 2"));

  std::vector<TableLine> too_long = {{1, 0, kMaxTableSectors, "zero", {}},
                                     {2, kMaxTableSectors, 1, "zero", {}}};
  auto with_too_long = Table::Build(too_long, BuiltinTargets(), opts);
  ASSERT_FALSE(with_too_long.has_value());
  EXPECT_THAT(with_too_long.error().message,
              AllOf(HasSubstr("line 2"), HasSubstr("largest volume")));
}

// --- Resources --------------------------------------------------------------

TEST_F(TableTest, RefusedTableLeavesNoDeviceOpen) {
  const long mem0_before = mem0_.use_count();
  const long mem1_before = mem1_.use_count();
  {
    // Sanity: a built table holds its devices.
    auto ok = Load("0 100 linear mem0 0\n100 16 striped 2 8 mem0 200 mem1 0\n");
    ASSERT_TRUE(ok.has_value()) << ok.error().message;
    EXPECT_GT(mem0_.use_count(), mem0_before);
    EXPECT_GT(mem1_.use_count(), mem1_before);
  }
  EXPECT_EQ(mem0_.use_count(), mem0_before);
  EXPECT_EQ(mem1_.use_count(), mem1_before);

  const std::vector<std::string> refused = {
      // The first line opens mem0, the second fails in the registry.
      "0 100 linear mem0 0\n100 10 bogus\n",
      // The first line opens mem0, the third fails in its constructor.
      "0 100 linear mem0 0\n100 10 linear mem1 0\n110 10 linear nosuch 0\n",
      // The striped target opens mem0 and mem1 itself before its third stripe fails.
      "0 100 linear mem1 0\n100 24 striped 3 8 mem0 0 mem1 500 nosuch 0\n",
      // The first stripe fits on mem0, the second does not fit on mem1.
      "0 100 linear mem0 0\n100 2000 striped 2 8 mem0 0 mem1 8\n",
  };
  for (const std::string& text : refused) {
    SCOPED_TRACE(text);
    auto t = Load(text);
    ASSERT_FALSE(t.has_value());
    EXPECT_EQ(mem0_.use_count(), mem0_before);
    EXPECT_EQ(mem1_.use_count(), mem1_before);
  }
}

// --- Lookups ----------------------------------------------------------------

TEST_F(TableTest, FindTargetAtBoundaries) {
  auto table = Load("0 100 zero\n100 1 error\n101 50 linear mem0 0\n151 1000 zero\n");
  ASSERT_TRUE(table.has_value()) << table.error().message;
  const Table& t = **table;
  ASSERT_EQ(t.sectors(), 1151u);
  EXPECT_EQ(t.FindTarget(0), 0u);
  EXPECT_EQ(t.FindTarget(99), 0u);
  EXPECT_EQ(t.FindTarget(100), 1u);
  EXPECT_EQ(t.FindTarget(101), 2u);
  EXPECT_EQ(t.FindTarget(150), 2u);
  EXPECT_EQ(t.FindTarget(151), 3u);
  EXPECT_EQ(t.FindTarget(1150), 3u);

  auto single = Load("0 18014398509481983 zero\n");
  ASSERT_TRUE(single.has_value()) << single.error().message;
  EXPECT_EQ((*single)->FindTarget(0), 0u);
  EXPECT_EQ((*single)->FindTarget(kMaxTableSectors - 1), 0u);
}

TEST_F(TableTest, DevicesListsEachDeviceOnceInTableOrder) {
  auto table = Load(
      "0 100 linear mem1 0\n"
      "100 10 zero\n"
      "110 32 striped 2 16 mem0 0 mem1 100\n"
      "142 50 linear mem0 500\n"
      "192 8 error\n");
  ASSERT_TRUE(table.has_value()) << table.error().message;
  std::vector<std::string> names;
  for (BlockDevice* d : (*table)->Devices()) names.push_back(d->name());
  EXPECT_THAT(names, ElementsAre("mem1", "mem0"));

  auto none = Load("0 10 zero\n10 10 error\n");
  ASSERT_TRUE(none.has_value()) << none.error().message;
  EXPECT_TRUE((*none)->Devices().empty());
}

}  // namespace
}  // namespace udm::test
