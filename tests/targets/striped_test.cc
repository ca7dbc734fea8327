// Tests for the striped target: argument checks, table and status lines in
// dm-stripe's format, and Map() against a brute-force walk of the chunks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "support/test_resolver.h"
#include "udm/backends.h"
#include "udm/table.h"
#include "udm/targets/builtin.h"

namespace udm {
namespace {

using ::testing::HasSubstr;

struct Place {
  BlockDevice* dev;
  uint64_t sector;
};

class StripedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 5; ++i) {
      devs_.push_back(std::make_shared<NullBackend>(fmt::format("mem{}", i), 100000));
      resolver_.Add(devs_.back());
    }
  }

  Result<std::unique_ptr<Table>> Load(std::string_view text) {
    return Table::FromText(text, BuiltinTargets(),
                           TableOptions{true, &resolver_, [this] { ++events_; }});
  }

  std::string LoadError(std::string_view text) {
    auto table = Load(text);
    if (table) return "(loaded)";
    return table.error().message;
  }

  // Where each sector of a striped target of `length` sectors lands, found
  // by dealing chunks out to the stripes in turn, each stripe filling up
  // from its offset.
  static std::vector<Place> ReferenceLayout(uint64_t length, uint64_t chunk,
                                            const std::vector<Place>& stripes) {
    std::vector<Place> out;
    std::vector<uint64_t> used(stripes.size(), 0);
    size_t next = 0;
    while (out.size() < length) {
      for (uint64_t i = 0; i < chunk; ++i) {
        out.push_back({stripes[next].dev, stripes[next].sector + used[next] + i});
      }
      used[next] += chunk;
      next = (next + 1) % stripes.size();
    }
    return out;
  }

  test::TestResolver resolver_;
  std::vector<std::shared_ptr<NullBackend>> devs_;
  int events_ = 0;
};

TEST_F(StripedTest, IsBuiltin) {
  const TargetType* type = BuiltinTargets().Find("striped");
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->version.major, 1u);
  EXPECT_EQ(type->version.minor, 6u);
}

TEST_F(StripedTest, TableRoundTrips) {
  const std::string text =
      "0 1024 striped 2 64 mem0 0 mem1 128\n"
      "1024 24 striped 3 8 mem2 7 mem3 0 mem4 99\n"
      "1048 1 striped 1 1 mem0 5000\n";
  auto table = Load(text);
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ((*table)->Text(StatusType::kTable), text);
  auto normalised = Load("0  1024 striped 02 064 mem0 00 mem1 0128");
  ASSERT_TRUE(normalised) << normalised.error().message;
  EXPECT_EQ((*normalised)->Text(StatusType::kTable), "0 1024 striped 2 64 mem0 0 mem1 128\n");
}

TEST_F(StripedTest, InfoStatusShowsDevicesAndHealth) {
  auto table = Load("0 1536 striped 3 128 mem0 0 mem1 0 mem2 0");
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ((*table)->Text(StatusType::kInfo), "0 1536 striped 3 mem0 mem1 mem2 1 AAA\n");
}

TEST_F(StripedTest, FailedStripeShowsAsDead) {
  auto table = Load("0 1536 striped 3 128 mem0 0 mem1 0 mem2 0");
  ASSERT_TRUE(table) << table.error().message;
  Target& target = *(*table)->entry(0).target;

  // Success and "not supported" do not count as device failures.
  for (int status : {0, -EOPNOTSUPP}) {
    Bio bio;
    bio.op = Op::kWrite;
    bio.sector = 128;  // chunk 1: stripe 1
    bio.sectors = 8;
    ASSERT_EQ(target.Map(&bio), MapResult::kRemapped);
    int st = status;
    EXPECT_EQ(target.EndIo(&bio, &st), EndIoResult::kDone);
    EXPECT_EQ(st, status);
  }
  EXPECT_EQ((*table)->Text(StatusType::kInfo), "0 1536 striped 3 mem0 mem1 mem2 1 AAA\n");
  EXPECT_EQ(events_, 0);

  Bio bio;
  bio.op = Op::kRead;
  bio.sector = 128 + 384;  // chunk 4: stripe 1 again
  bio.sectors = 1;
  ASSERT_EQ(target.Map(&bio), MapResult::kRemapped);
  int st = -EIO;
  EXPECT_EQ(target.EndIo(&bio, &st), EndIoResult::kDone);
  EXPECT_EQ(st, -EIO);  // the error still reaches the submitter
  EXPECT_EQ((*table)->Text(StatusType::kInfo), "0 1536 striped 3 mem0 mem1 mem2 1 ADA\n");
  EXPECT_EQ(events_, 1);

  Bio flush;
  flush.op = Op::kFlush;
  flush.target_bio_nr = 2;
  ASSERT_EQ(target.Map(&flush), MapResult::kRemapped);
  st = -EIO;
  target.EndIo(&flush, &st);
  EXPECT_EQ((*table)->Text(StatusType::kInfo), "0 1536 striped 3 mem0 mem1 mem2 1 ADD\n");
  EXPECT_EQ(events_, 2);
}

TEST_F(StripedTest, ErrorOnSharedDeviceMarksTheRightStripe) {
  // Two stripes on the same device, at different offsets.
  auto table = Load("0 64 striped 2 8 mem0 0 mem0 1000");
  ASSERT_TRUE(table) << table.error().message;
  Target& target = *(*table)->entry(0).target;
  Bio bio;
  bio.op = Op::kWrite;
  bio.sector = 8;  // chunk 1: stripe 1 at mem0:1000
  bio.sectors = 8;
  ASSERT_EQ(target.Map(&bio), MapResult::kRemapped);
  EXPECT_EQ(bio.sector, 1000u);
  int st = -EIO;
  target.EndIo(&bio, &st);
  EXPECT_EQ(target.StatusLine(StatusType::kInfo), "2 mem0 mem0 1 AD");
}

TEST_F(StripedTest, ErrorEventsStopAtThreshold) {
  auto table = Load("0 16 striped 1 8 mem0 0");
  ASSERT_TRUE(table) << table.error().message;
  Target& target = *(*table)->entry(0).target;
  for (int i = 0; i < 40; ++i) {
    Bio bio;
    bio.op = Op::kRead;
    bio.sector = 0;
    bio.sectors = 8;
    ASSERT_EQ(target.Map(&bio), MapResult::kRemapped);
    int st = -EIO;
    target.EndIo(&bio, &st);
  }
  EXPECT_EQ(events_, 14);  // like dm-stripe's DM_IO_ERROR_THRESHOLD of 15
  EXPECT_EQ(target.StatusLine(StatusType::kInfo), "1 mem0 1 D");
}

TEST_F(StripedTest, MapMatchesBruteForceLayout) {
  struct Case {
    uint64_t length, chunk;
    std::vector<std::pair<int, uint64_t>> stripes;  // device index, offset
  };
  const Case cases[] = {
      {8, 1, {{0, 0}}},
      {64, 8, {{0, 0}, {1, 0}}},
      {3 * 4 * 16, 16, {{2, 5}, {0, 1}, {4, 333}}},
      {4 * 2 * 128, 128, {{1, 0}, {2, 77}, {3, 1}, {0, 4096}}},
      {5 * 3 * 2, 2, {{0, 0}, {1, 10}, {2, 20}, {3, 30}, {4, 40}}},
      {2 * 5 * 4, 4, {{3, 100}, {3, 0}}},
  };
  for (const Case& c : cases) {
    // Put a linear target in front so begin() is not zero.
    std::string text = fmt::format("0 17 linear mem4 0\n17 {} striped {} {}", c.length,
                                   c.stripes.size(), c.chunk);
    std::vector<Place> stripes;
    for (auto [dev, offset] : c.stripes) {
      text += fmt::format(" mem{} {}", dev, offset);
      stripes.push_back({devs_[dev].get(), offset});
    }
    SCOPED_TRACE(text);
    auto table = Load(text);
    ASSERT_TRUE(table) << table.error().message;
    Target& target = *(*table)->entry(1).target;
    EXPECT_EQ(target.max_io_len(), c.chunk);
    const std::vector<Place> ref = ReferenceLayout(c.length, c.chunk, stripes);

    // One sector at a time.
    for (uint64_t s = 0; s < c.length; ++s) {
      Bio bio;
      bio.op = s % 2 ? Op::kWrite : Op::kRead;
      bio.sector = 17 + s;
      bio.sectors = 1;
      ASSERT_EQ(target.Map(&bio), MapResult::kRemapped);
      ASSERT_EQ(bio.device, ref[s].dev) << "sector " << s;
      ASSERT_EQ(bio.sector, ref[s].sector) << "sector " << s;
    }
    // Whole chunks and chunk tails, as the engine's max_io_len split hands them over.
    for (uint64_t s = 0; s < c.length; s += c.chunk) {
      for (uint64_t skip = 0; skip < c.chunk; skip += std::max<uint64_t>(1, c.chunk / 4)) {
        Bio bio;
        bio.op = Op::kDiscard;
        bio.sector = 17 + s + skip;
        bio.sectors = c.chunk - skip;
        ASSERT_EQ(target.Map(&bio), MapResult::kRemapped);
        EXPECT_EQ(bio.device, ref[s + skip].dev);
        EXPECT_EQ(bio.sector, ref[s + skip].sector);
        EXPECT_EQ(bio.sectors, c.chunk - skip);
      }
    }
    // Every stripe is used exactly over [offset, offset + length / #stripes).
    std::map<std::pair<BlockDevice*, uint64_t>, int> seen;
    for (const Place& p : ref) ++seen[{p.dev, p.sector}];
    EXPECT_EQ(seen.size(), c.length);
    const uint64_t width = c.length / stripes.size();
    for (const Place& st : stripes) {
      EXPECT_EQ(seen.count({st.dev, st.sector}), 1u);
      EXPECT_EQ(seen.count({st.dev, st.sector + width - 1}), 1u);
    }
  }
}

TEST_F(StripedTest, FlushGoesToEveryStripe) {
  auto table = Load("0 1024 striped 4 64 mem3 0 mem1 8 mem0 16 mem2 24");
  ASSERT_TRUE(table) << table.error().message;
  Target& target = *(*table)->entry(0).target;
  ASSERT_EQ(target.num_flush_bios(), 4u);
  const BlockDevice* want[] = {devs_[3].get(), devs_[1].get(), devs_[0].get(), devs_[2].get()};
  for (uint32_t nr = 0; nr < 4; ++nr) {
    Bio flush;
    flush.op = Op::kFlush;
    flush.flags = kPreflush;
    flush.target_bio_nr = nr;
    ASSERT_EQ(target.Map(&flush), MapResult::kRemapped);
    EXPECT_EQ(flush.device, want[nr]) << nr;
    EXPECT_EQ(flush.sectors, 0u);
  }
  EXPECT_THAT((*table)->Devices(),
              ::testing::ElementsAre(devs_[3].get(), devs_[1].get(), devs_[0].get(),
                                     devs_[2].get()));
}

TEST_F(StripedTest, RejectsMissingArguments) {
  EXPECT_THAT(LoadError("0 64 striped"), HasSubstr("got 0 argument"));
  EXPECT_THAT(LoadError("0 64 striped 2"), HasSubstr("<#stripes> <chunk size>"));
}

TEST_F(StripedTest, RejectsBadStripeCount) {
  EXPECT_THAT(LoadError("0 64 striped 0 8"), HasSubstr("#stripes: must be at least 1"));
  std::string msg = LoadError("0 64 striped two 8 mem0 0 mem1 0");
  EXPECT_THAT(msg, HasSubstr("#stripes"));
  EXPECT_THAT(msg, HasSubstr("'two'"));
  EXPECT_THAT(LoadError("0 64 striped -2 8 mem0 0 mem1 0"), HasSubstr("#stripes"));
  msg = LoadError("0 64 striped 99999999999999999999 8 mem0 0");
  EXPECT_THAT(msg, HasSubstr("#stripes"));
  EXPECT_THAT(msg, HasSubstr("too large"));
  // Largest 64-bit count: must not overflow the argument-count check.
  EXPECT_THAT(LoadError("0 64 striped 18446744073709551615 8 mem0 0"),
              HasSubstr("not enough destinations"));
}

TEST_F(StripedTest, RejectsBadChunkSize) {
  EXPECT_THAT(LoadError("0 64 striped 2 0 mem0 0 mem1 0"),
              HasSubstr("chunk size: must be greater than 0"));
  for (const char* bad : {"3", "24", "48", "1000"}) {
    std::string msg = LoadError(fmt::format("0 96000 striped 2 {} mem0 0 mem1 0", bad));
    EXPECT_THAT(msg, HasSubstr("chunk size"));
    EXPECT_THAT(msg, HasSubstr(fmt::format("{} sectors is not a power of two", bad)));
  }
  std::string msg = LoadError("0 64 striped 2 8k mem0 0 mem1 0");
  EXPECT_THAT(msg, HasSubstr("chunk size"));
  EXPECT_THAT(msg, HasSubstr("'8k'"));
}

TEST_F(StripedTest, RejectsWrongNumberOfDestinations) {
  std::string msg = LoadError("0 64 striped 3 8 mem0 0 mem1 0");
  EXPECT_THAT(msg, HasSubstr("not enough destinations"));
  EXPECT_THAT(msg, HasSubstr("#stripes is 3 but 2 given"));
  EXPECT_THAT(LoadError("0 64 striped 2 8 mem0 0 mem1"), HasSubstr("not enough destinations"));
  EXPECT_THAT(LoadError("0 64 striped 1 8 mem0 0 mem1 0"), HasSubstr("too many arguments"));
  EXPECT_THAT(LoadError("0 64 striped 1 8 mem0 0 extra"), HasSubstr("too many arguments"));
}

TEST_F(StripedTest, RejectsLengthNotDivisible) {
  std::string msg = LoadError("0 65 striped 2 8 mem0 0 mem1 0");
  EXPECT_THAT(msg, HasSubstr("length"));
  EXPECT_THAT(msg, HasSubstr("not divisible by #stripes 2"));
  // 96 sectors / 2 stripes = 48 per stripe, not a whole number of 32-sector
  // chunks (although 96 itself is divisible by 32).
  msg = LoadError("0 96 striped 2 32 mem0 0 mem1 0");
  EXPECT_THAT(msg, HasSubstr("length"));
  EXPECT_THAT(msg, HasSubstr("not divisible by chunk size 32"));
  EXPECT_TRUE(Load("0 128 striped 2 32 mem0 0 mem1 0"));
}

TEST_F(StripedTest, RejectsBadDestinations) {
  std::string msg = LoadError("0 64 striped 2 8 mem0 0 nosuch 0");
  EXPECT_THAT(msg, HasSubstr("stripe 1"));
  EXPECT_THAT(msg, HasSubstr("nosuch"));
  EXPECT_THAT(msg, HasSubstr("not found"));

  msg = LoadError("0 64 striped 2 8 mem0 0 mem1 zz");
  EXPECT_THAT(msg, HasSubstr("stripe 1 offset"));
  EXPECT_THAT(msg, HasSubstr("'zz'"));
  EXPECT_THAT(LoadError("0 64 striped 2 8 mem0 18446744073709551616 mem1 0"),
              HasSubstr("stripe 0 offset: '18446744073709551616' is too large"));

  // Each device must hold length / #stripes sectors past its offset.
  EXPECT_TRUE(Load("0 200000 striped 2 8 mem0 0 mem1 0"));
  EXPECT_TRUE(Load("0 200 striped 2 4 mem0 0 mem1 99900"));
  msg = LoadError("0 200 striped 2 4 mem0 0 mem1 99901");
  EXPECT_THAT(msg, HasSubstr("stripe 1"));
  EXPECT_THAT(msg, HasSubstr("too small"));
  EXPECT_THAT(LoadError("0 200008 striped 2 4 mem0 0 mem1 0"), HasSubstr("stripe 0"));
  EXPECT_THAT(LoadError("0 64 striped 2 8 mem0 18446744073709551615 mem1 0"),
              HasSubstr("too small"));
}

}  // namespace
}  // namespace udm
