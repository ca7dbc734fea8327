// Tests for udm-crash's library: the log reader accepts well-formed logs and
// rejects truncated and corrupt ones with an error naming the problem;
// crash-state enumeration follows the epoch model; shrinking finds the
// minimal failing set.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "crash_states.h"
#include "log_reader.h"
#include "shrink.h"
#include "udm/targets/log_writes_format.h"

namespace udm::crash {
namespace {

using ::testing::HasSubstr;
namespace lw = logwrites;

// Builds logs in memory, entry by entry, the way the target lays them out.
class LogBuilder {
 public:
  LogBuilder() : bytes_(512) {}
  LogBuilder& Write(uint64_t sector, uint64_t n, uint64_t flags = 0, uint8_t fill = 0x5a) {
    Entry({sector, n, flags, 0}, "");
    bytes_.resize(bytes_.size() + n * 512, fill);
    return *this;
  }
  LogBuilder& Flush() { return Entry({0, 0, lw::kFlagFlush, 0}, ""); }
  LogBuilder& Mark(const std::string& name) {
    return Entry({0, 0, lw::kFlagMark, name.size()}, name);
  }
  LogBuilder& Discard(uint64_t sector, uint64_t n) {
    return Entry({sector, n, lw::kFlagDiscard, 0}, "");
  }
  std::vector<uint8_t> Bytes(uint64_t nr_entries = UINT64_MAX) const {
    std::vector<uint8_t> b = bytes_;
    lw::Super s;
    s.nr_entries = nr_entries == UINT64_MAX ? count_ : nr_entries;
    lw::EncodeSuper(s, std::span<uint8_t>(b.data(), 512));
    return b;
  }
  size_t EntryOffset(size_t i) const { return offsets_[i]; }

 private:
  LogBuilder& Entry(const lw::EntryHeader& h, const std::string& mark) {
    offsets_.push_back(bytes_.size());
    bytes_.resize(bytes_.size() + 512);
    lw::EncodeEntry(h, mark, std::span<uint8_t>(bytes_.data() + offsets_.back(), 512));
    ++count_;
    return *this;
  }
  std::vector<uint8_t> bytes_;
  std::vector<size_t> offsets_;
  uint64_t count_ = 0;
};

std::string ParseError(const std::vector<uint8_t>& bytes) {
  auto log = ParseLogBytes(bytes);
  return log ? "(parsed)" : log.error().message;
}

TEST(LogReader, ParsesEveryKindOfEntry) {
  LogBuilder b;
  b.Mark("start").Write(8, 2).Discard(100, 50).Flush().Write(0, 1, lw::kFlagFua, 0x11);
  auto log = ParseLogBytes(b.Bytes());
  ASSERT_TRUE(log) << log.error().message;
  ASSERT_EQ(log->entries.size(), 5u);
  EXPECT_EQ(log->entries[0].mark, "start");
  EXPECT_TRUE(log->entries[1].is_write());
  EXPECT_EQ(log->entries[1].data_offset, 1536u);
  EXPECT_TRUE(log->entries[2].is_discard());
  EXPECT_EQ(log->entries[2].data_offset, 0u);
  EXPECT_TRUE(log->entries[3].is_flush());
  EXPECT_FALSE(log->entries[3].is_write());
  std::vector<uint8_t> data(512);
  ASSERT_TRUE(log->ReadData(log->entries[4], 0, data));
  EXPECT_EQ(data[0], 0x11);
  EXPECT_FALSE(log->ReadData(log->entries[4], 1, data));  // past its data
  EXPECT_EQ(DescribeEntry(log->entries[4]), "entry 4: sector 0 +1 FUA");
  EXPECT_EQ(DescribeEntry(log->entries[0]), "entry 0: mark 'start'");
}

TEST(LogReader, RejectsBadSuper) {
  EXPECT_THAT(ParseError({}), HasSubstr("too short for the 32-byte super"));
  auto bytes = LogBuilder().Write(0, 1).Bytes();
  auto bad = bytes;
  bad[0] ^= 1;
  EXPECT_THAT(ParseError(bad), HasSubstr("bad magic"));
  bad = bytes;
  bad[8] = 2;
  EXPECT_THAT(ParseError(bad), HasSubstr("log version 2 is not supported"));
  bad = bytes;
  bad[24] = 0x01;  // sectorsize 0x201
  EXPECT_THAT(ParseError(bad), HasSubstr("bad sectorsize 513"));
  EXPECT_THAT(ParseError(LogBuilder().Write(0, 1).Bytes(1000)),
              HasSubstr("super counts 1000 entries but a 1536-byte log holds at most 2"));
}

TEST(LogReader, RejectsTruncatedLogs) {
  LogBuilder b;
  b.Write(0, 4).Flush();
  auto bytes = b.Bytes();
  for (size_t cut : {bytes.size() - 1, bytes.size() - 512, size_t{1024}, size_t{600}}) {
    std::vector<uint8_t> t(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    auto log = ParseLogBytes(t);
    EXPECT_FALSE(log) << "cut at " << cut;
  }
  std::vector<uint8_t> t(bytes.begin(), bytes.begin() + 2048);
  EXPECT_THAT(ParseError(t), HasSubstr("entry 0 at byte 512: 2048 bytes of data run past the end"));
}

TEST(LogReader, RejectsCorruptEntries) {
  LogBuilder b;
  b.Write(0, 1).Mark("m");
  const auto bytes = b.Bytes();
  auto at = [&](size_t entry, size_t field) { return b.EntryOffset(entry) + field; };
  auto bad = bytes;
  bad[at(0, 16)] = 0x40;  // unknown flag
  EXPECT_THAT(ParseError(bad), HasSubstr("entry 0 at byte 512: unknown flags 0x40"));
  bad = bytes;
  bad[at(0, 32)] = 1;  // garbage after a write's header
  EXPECT_THAT(ParseError(bad), HasSubstr("not zero-padded"));
  bad = bytes;
  bad[at(0, 24)] = 5;  // data_len on a write
  EXPECT_THAT(ParseError(bad), HasSubstr("data_len 5 on a non-mark entry"));
  bad = bytes;
  bad[at(1, 24)] = 0xff;
  bad[at(1, 25)] = 0x01;  // mark longer than the sector
  EXPECT_THAT(ParseError(bad), HasSubstr("mark length 511 out of range 1..479"));
  bad = bytes;
  std::fill(bad.begin() + static_cast<long>(at(1, 0)), bad.begin() + static_cast<long>(at(1, 32)), 0);
  EXPECT_THAT(ParseError(bad), HasSubstr("entry 1 at byte 1536: all-zero entry"));
  bad = bytes;
  bad[at(0, 15)] = 0x80;  // nr_sectors near 2^64
  EXPECT_THAT(ParseError(bad), HasSubstr("out of range"));
}

TEST(LogReader, LiveScanStopsAtTheUnfinishedTail) {
  LogBuilder b;
  b.Write(0, 1).Flush().Write(1, 1).Flush();
  auto bytes = b.Bytes(2);  // the super lags by two entries
  bytes.resize(bytes.size() - 100);  // and the last one is torn
  auto strict = ParseLogBytes(bytes);
  ASSERT_TRUE(strict);
  EXPECT_EQ(strict->entries.size(), 2u);
  auto live = ParseLogBytes(bytes, ParseOptions{true});
  ASSERT_TRUE(live);
  EXPECT_EQ(live->entries.size(), 3u);
}

TEST(LogReader, NeverCrashesOnRandomDamage) {
  LogBuilder b;
  b.Mark("x").Write(0, 3).Discard(4, 4).Flush().Write(9, 1, lw::kFlagFua);
  const auto bytes = b.Bytes();
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    auto d = bytes;
    for (int k = 0; k < 4; ++k) d[rng() % d.size()] = static_cast<uint8_t>(rng());
    if (round % 3 == 0) d.resize(rng() % d.size());
    auto log = ParseLogBytes(d, ParseOptions{round % 2 == 0});
    if (!log) continue;
    for (const auto& e : log->entries) {
      std::vector<uint8_t> buf(e.nr_sectors > 8 ? 0 : e.nr_sectors * 512);
      if (e.data_offset != 0) {
        EXPECT_TRUE(log->ReadData(e, 0, buf));
      }
    }
  }
}

// The states of `b`'s log for `kinds`; the log lives in *log.
std::vector<CrashState> StatesOf(const LogBuilder& b, unsigned kinds, ParsedLog* log) {
  auto parsed = ParseLogBytes(b.Bytes());
  EXPECT_TRUE(parsed);
  if (!parsed) return {};
  *log = std::move(*parsed);
  StateOptions o;
  o.kinds = kinds;
  return EnumerateStates(*log, o);
}

TEST(CrashStates, PrefixesAtFlushAndFua) {
  LogBuilder b;
  b.Write(0, 1).Flush().Write(1, 1, lw::kFlagFua).Write(2, 1);
  ParsedLog log;
  std::vector<uint64_t> prefixes;
  for (const auto& s : StatesOf(b, kPrefixes, &log)) prefixes.push_back(s.prefix);
  EXPECT_EQ(prefixes, (std::vector<uint64_t>{2, 3, 4}));
}

TEST(CrashStates, EpochSubsetsKeepFuaAndSkipLaterWrites) {
  LogBuilder b;
  // Epoch: w0, w1, FUA w2, w3, flush.
  b.Write(0, 1).Write(1, 1).Write(2, 1, lw::kFlagFua).Write(3, 1).Flush();
  ParsedLog log;
  auto states = StatesOf(b, kEpochSubsets, &log);
  ASSERT_FALSE(states.empty());
  for (const auto& s : states) {
    bool has_fua = false;
    for (const auto& p : s.extra) {
      EXPECT_LE(p.entry, s.crash_point);
      has_fua |= p.entry == 2;
    }
    if (s.crash_point >= 2) {
      EXPECT_TRUE(has_fua) << DescribeState(log, s);
    }
  }
  // Cut at the FUA: the 3 proper subsets of {w0, w1}; at the flush: the 7
  // proper subsets of {w0, w1, w3}, 3 of which the first cut already made.
  EXPECT_EQ(states.size(), 7u);
}

TEST(CrashStates, TornWritesAndBudget) {
  LogBuilder b;
  b.Write(6, 20).Flush();
  ParsedLog log;
  std::vector<uint64_t> tears;
  for (const auto& s : StatesOf(b, kTorn, &log)) tears.push_back(s.extra.at(0).sectors);
  EXPECT_EQ(tears, (std::vector<uint64_t>{2, 10, 18}));  // at 4 KiB device boundaries
  StateOptions o;
  o.max_states = 2;
  EXPECT_EQ(EnumerateStates(log, o).size(), 2u);
  EXPECT_FALSE(ParseStateKinds("prefixes,bogus"));
  EXPECT_EQ(*ParseStateKinds("prefixes,torn"), kPrefixes | kTorn);
}

TEST(CrashStates, SamplingIsSeeded) {
  LogBuilder b;
  for (int i = 0; i < 12; ++i) b.Write(static_cast<uint64_t>(i), 1);
  b.Flush();
  auto log = ParseLogBytes(b.Bytes());
  ASSERT_TRUE(log);
  StateOptions o;
  o.kinds = kPrefixes | kEpochSubsets;
  o.max_states = 60;
  o.seed = 42;
  auto keys = [&] {
    std::vector<std::string> out;
    for (const auto& s : EnumerateStates(*log, o)) out.push_back(DescribeState(*log, s));
    return out;
  };
  EXPECT_EQ(keys(), keys());
  EXPECT_EQ(keys().size(), 60u);
}

TEST(Shrink, FindsTheMinimalFailingSet) {
  CrashState s;
  for (uint64_t i = 0; i < 10; ++i) s.extra.push_back(Piece{i, 0, i != 9});
  // Fails when 3 and 7 are both present (9 is required anyway).
  auto fails = [](const CrashState& c) {
    bool a = false, b = false;
    for (const auto& p : c.extra) {
      a |= p.entry == 3;
      b |= p.entry == 7;
    }
    return a && b;
  };
  CrashState m = ShrinkState(s, fails);
  std::vector<uint64_t> kept;
  for (const auto& p : m.extra) kept.push_back(p.entry);
  EXPECT_EQ(kept, (std::vector<uint64_t>{3, 7, 9}));
}

}  // namespace
}  // namespace udm::crash
