// Tests for the log-writes target: the on-disk layout byte for byte, the
// kernel's ordering rule (a write is logged when a flush submitted after it
// completed completes; FUA at once), marks, discards, status and table
// lines, and every argument and message it refuses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "log_reader.h"
#include "support/manual_backend.h"
#include "support/test_io.h"
#include "support/test_resolver.h"
#include "udm/backends.h"
#include "udm/targets/log_writes_format.h"

namespace udm {
namespace {

using ::testing::HasSubstr;
namespace lw = logwrites;

class LogWritesTest : public ::testing::Test {
 protected:
  LogWritesTest() {
    for (const auto& dev : {data_, log_}) resolver_.Add(dev);
  }

  std::unique_ptr<MappedDevice> Make(const std::string& data = "data") {
    return test::MakeDevice(fmt::format("0 1000 log-writes {} log", data), resolver_);
  }

  std::string LoadError(const std::string& table) {
    auto t = Table::FromText(table, BuiltinTargets(), TableOptions{true, &resolver_, {}});
    return t ? "(loaded)" : t.error().message;
  }

  static void Run(MappedDevice& md, std::unique_ptr<test::TestIo> io) {
    md.Submit(io->bio());
    ASSERT_TRUE(io->Wait());
    ASSERT_EQ(io->status(), 0);
  }

  crash::ParsedLog Parse() {
    auto bytes = log_->Read(0, log_->sectors());
    auto log = crash::ParseLogBytes(bytes);
    EXPECT_TRUE(log) << log.error().message;
    return log ? std::move(*log) : crash::ParsedLog{};
  }

  // "W10+8 F M:name D5+2 FUA" summary of the parsed log.
  std::string Summary() {
    std::string out;
    for (const auto& e : Parse().entries) {
      if (!out.empty()) out += ' ';
      if (e.is_mark()) out += "M:" + e.mark;
      else if (e.is_discard()) out += fmt::format("D{}+{}", e.sector, e.nr_sectors);
      else if (e.nr_sectors == 0) out += "F";
      else out += fmt::format("{}{}+{}", e.is_fua() ? "FUA" : "W", e.sector, e.nr_sectors);
      if (e.is_flush() && e.nr_sectors != 0) out += "(F)";
    }
    return out;
  }

  std::shared_ptr<MemoryBackend> data_ = std::make_shared<MemoryBackend>("data", 1000);
  std::shared_ptr<MemoryBackend> log_ = std::make_shared<MemoryBackend>("log", 4000);
  test::TestResolver resolver_;
};

TEST(LogWritesFormat, StructLayoutsMatchTheKernel) {
  // struct log_write_super and struct log_write_entry, both 32 bytes.
  EXPECT_EQ(lw::kSuperSize, 32u);
  EXPECT_EQ(lw::kEntryHeaderSize, 32u);
  EXPECT_EQ(lw::kMagic, 0x6a736677736872ull);
  EXPECT_EQ(lw::kFlagFlush, 1u);
  EXPECT_EQ(lw::kFlagFua, 2u);
  EXPECT_EQ(lw::kFlagDiscard, 4u);
  EXPECT_EQ(lw::kFlagMark, 8u);
  EXPECT_EQ(lw::kFlagMetadata, 16u);
  std::vector<uint8_t> sector(512, 0xee);
  lw::EncodeEntry({0x0102030405060708ull, 9, lw::kFlagFua, 3}, "abc", sector);
  EXPECT_EQ(sector[0], 0x08);  // little-endian sector at 0
  EXPECT_EQ(sector[7], 0x01);
  EXPECT_EQ(sector[8], 9);     // nr_sectors at 8
  EXPECT_EQ(sector[16], 2);    // flags at 16
  EXPECT_EQ(sector[24], 3);    // data_len at 24
  EXPECT_EQ(std::string(sector.begin() + 32, sector.begin() + 35), "abc");
  EXPECT_EQ(sector[35], 0);  // zero padding to the end
  EXPECT_EQ(sector[511], 0);
  lw::EncodeSuper({lw::kMagic, 1, 7, 512}, sector);
  EXPECT_EQ(sector[0], 0x72);  // magic's low byte
  EXPECT_EQ(sector[8], 1);     // version at 8
  EXPECT_EQ(sector[16], 7);    // nr_entries at 16
  EXPECT_EQ(sector[24], 0x00);  // sectorsize 512 = 0x200 at 24
  EXPECT_EQ(sector[25], 0x02);
  EXPECT_EQ(lw::FlagsString(lw::kFlagFlush | lw::kFlagFua), "FLUSH|FUA");
  EXPECT_EQ(lw::FlagsString(0), "NONE");
}

TEST_F(LogWritesTest, FreshLogHasSuperOnly) {
  auto md = Make();
  ASSERT_TRUE(md);
  auto super = lw::DecodeSuper(log_->Read(0, 1));
  EXPECT_EQ(super.magic, lw::kMagic);
  EXPECT_EQ(super.version, 1u);
  EXPECT_EQ(super.nr_entries, 0u);
  EXPECT_EQ(super.sectorsize, 512u);
  EXPECT_EQ(*md->TableText(false, StatusType::kInfo), "0 1000 log-writes 0 0\n");
  EXPECT_EQ(*md->TableText(false, StatusType::kTable), "0 1000 log-writes data log\n");
}

TEST_F(LogWritesTest, WriteIsLoggedOnlyWhenAFlushCoversIt) {
  auto md = Make();
  ASSERT_TRUE(md);
  Run(*md, test::TestIo::Write(10, 8, 0xaa));
  EXPECT_EQ(Summary(), "");
  EXPECT_EQ(data_->Read(10, 1)[0], 0xaa);  // data went through at once
  Run(*md, test::TestIo::Flush());
  EXPECT_EQ(Summary(), "W10+8 F");
  // Entry sector, 8 data sectors, flush entry: next free sector is 11.
  EXPECT_EQ(*md->TableText(false, StatusType::kInfo), "0 1000 log-writes 2 10\n");
  auto log = Parse();
  std::vector<uint8_t> data(4096);
  ASSERT_TRUE(log.ReadData(log.entries[0], 0, data));
  EXPECT_EQ(data[0], 0xaa);
  EXPECT_EQ(data[4095], 0xaa);
  EXPECT_EQ(log.entries[0].data_offset, 1024u);  // right after its entry sector
}

TEST_F(LogWritesTest, FuaIsLoggedAtOnceAheadOfUnflushedWrites) {
  auto md = Make();
  ASSERT_TRUE(md);
  Run(*md, test::TestIo::Write(0, 1, 1));
  Run(*md, test::TestIo::Write(5, 2, 2, kFua));
  EXPECT_EQ(Summary(), "FUA5+2");
  Run(*md, test::TestIo::Flush());
  EXPECT_EQ(Summary(), "FUA5+2 W0+1 F");
}

TEST_F(LogWritesTest, WriteCompletingAfterTheFlushWasIssuedWaitsForTheNextFlush) {
  auto manual = std::make_shared<test::ManualBackend>("manual", 1000);
  resolver_.Add(manual);
  auto md = Make("manual");
  ASSERT_TRUE(md);
  auto w = test::TestIo::Write(3, 1, 7);
  md->Submit(w->bio());
  ASSERT_TRUE(manual->WaitHeld(1));
  auto f = test::TestIo::Flush();
  md->Submit(f->bio());
  ASSERT_TRUE(manual->WaitHeld(2));
  ASSERT_TRUE(manual->ReleaseIf([](const test::SeenIo& s) { return s.op == Op::kWrite; }));
  ASSERT_TRUE(w->Wait());
  manual->ReleaseAll();
  ASSERT_TRUE(f->Wait());
  EXPECT_EQ(Summary(), "F");  // the flush was issued before the write completed
  manual->SetPassThrough(true);
  Run(*md, test::TestIo::Flush());
  EXPECT_EQ(Summary(), "F W3+1 F");
}

TEST_F(LogWritesTest, MarksDiscardsAndZeroes) {
  auto md = Make();
  ASSERT_TRUE(md);
  ASSERT_TRUE(md->Message(0, std::vector<std::string>{"mark", "mkfs"}));
  EXPECT_EQ(Summary(), "M:mkfs");  // logged when the message returns
  Run(*md, test::TestIo::Make(Op::kDiscard, 20, 4, 0));
  Run(*md, test::TestIo::Make(Op::kWriteZeroes, 30, 2, 0));
  Run(*md, test::TestIo::Flush());
  EXPECT_EQ(Summary(), "M:mkfs D20+4 W30+2 F");
  auto log = Parse();
  // A discard takes its entry sector only; zeroes are logged as data.
  EXPECT_EQ(log.entries[1].data_offset, 0u);
  EXPECT_EQ(log.entries[2].entry_offset, 3u * 512);
  EXPECT_EQ(log.FindMark("mkfs"), 0);
}

TEST_F(LogWritesTest, RemovingTheTableLogsTheRestAndAnEndMark) {
  auto md = Make();
  ASSERT_TRUE(md);
  Run(*md, test::TestIo::Write(1, 1, 9));
  ASSERT_TRUE(md->Suspend(true));  // noflush: the write stays unflushed
  md.reset();
  EXPECT_EQ(Summary(), "W1+1 M:dm-log-writes-end");
  EXPECT_EQ(Parse().super_entries, 2u);
}

TEST_F(LogWritesTest, ReloadOntoTheSameLogStartsAFreshLog) {
  auto md = Make();
  ASSERT_TRUE(md);
  Run(*md, test::TestIo::Write(1, 1, 9));
  Run(*md, test::TestIo::Flush());
  EXPECT_EQ(Summary(), "W1+1 F");
  auto t = Table::FromText("0 1000 log-writes data log", BuiltinTargets(),
                           TableOptions{true, &resolver_, {}});
  ASSERT_TRUE(t);
  ASSERT_TRUE(md->Load(std::move(*t)));
  ASSERT_TRUE(md->Resume());
  EXPECT_EQ(Summary(), "");  // the old table is gone and wrote nothing more
  Run(*md, test::TestIo::Write(2, 1, 8));
  Run(*md, test::TestIo::Flush());
  EXPECT_EQ(Summary(), "W2+1 F");
  md.reset();  // flushes, then the end mark
  EXPECT_EQ(Summary(), "W2+1 F F M:dm-log-writes-end");
}

TEST_F(LogWritesTest, RejectsBadArguments) {
  EXPECT_THAT(LoadError("0 1000 log-writes data"),
              HasSubstr("expected 2 arguments <dev> <log_dev>, got 1"));
  EXPECT_THAT(LoadError("0 1000 log-writes data log x"), HasSubstr("got 3"));
  EXPECT_THAT(LoadError("0 1000 log-writes nope log"), HasSubstr("dev: device 'nope' not found"));
  EXPECT_THAT(LoadError("0 1000 log-writes data nope"),
              HasSubstr("log_dev: device 'nope' not found"));
  EXPECT_THAT(LoadError("0 2000 log-writes data log"), HasSubstr("too small"));
  EXPECT_THAT(LoadError("0 1000 log-writes data data"), HasSubstr("same device"));
  resolver_.Add(std::make_shared<MemoryBackend>("tiny", 2));
  EXPECT_THAT(LoadError("0 1000 log-writes data tiny"), HasSubstr("log_dev: device tiny too small"));
}

TEST_F(LogWritesTest, RejectsBadMessages) {
  auto md = Make();
  ASSERT_TRUE(md);
  auto msg = [&](std::vector<std::string> args) {
    auto r = md->Message(0, args);
    return r ? std::string("(ok)") : r.error().message;
  };
  EXPECT_THAT(msg({"flush"}), HasSubstr("unrecognised log-writes message 'flush'"));
  EXPECT_THAT(msg({"mark"}), HasSubstr("mark takes exactly 1 argument <name>, got 0"));
  EXPECT_THAT(msg({"mark", "a", "b"}), HasSubstr("got 2"));
  EXPECT_THAT(msg({"mark", std::string(480, 'x')}), HasSubstr("1 to 479 bytes, got 480"));
  EXPECT_EQ(msg({"MARK", std::string(479, 'x')}), "(ok)");
  EXPECT_EQ(Parse().entries.size(), 1u);
}

}  // namespace
}  // namespace udm
