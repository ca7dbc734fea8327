// log-writes and udm-crash end to end: a real udmd, a log-writes volume
// used through its FUSE file by losetup, mkfs.ext4 and mount; the log is
// replayed with udm-crash and compared byte for byte with the data device,
// and every crash state is checked with e2fsck. A tiny commit-record
// workload shows that a missing flush is found and shrunk to the one write
// that makes the bad state, and that the correct variant is clean.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include <fmt/core.h>

#include "support/command.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"

namespace udm::test {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

class CrashE2eTest : public DaemonFixture {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartDaemon("udm-crash")); }

  // A log-writes volume NAME over fresh data and log files; the data
  // device's starting image is saved as <dir>/NAME.base.
  void CreateLogWrites(const std::string& name, uint64_t data_bytes, uint64_t log_bytes) {
    const std::string data = Path(name + ".data"), log = Path(name + ".log");
    MakeSparseFile(data, data_bytes);
    MakeSparseFile(log, log_bytes);
    MakeSparseFile(Path(name + ".base"), data_bytes);
    const std::string table =
        fmt::format("0 {} log-writes {} {}", data_bytes / 512, data, log);
    auto r = daemon_->Udm({"create", name, "--table", table});
    ASSERT_TRUE(r.ok()) << r.err;
  }

  std::string Path(const std::string& leaf) const { return dir_ + "/" + leaf; }

  CommandResult Crash(std::vector<std::string> args, int timeout_s = 300) {
    args.insert(args.begin(), UDM_CRASH_PATH);
    return RunCommand(args, "", timeout_s);
  }

  // Runs the commit workload on the raw log-writes volume, then checks its
  // log with the workload's own verifier.
  CommandResult CommitWorkload(const std::string& variant) {
    auto w = RunCommand({COMMIT_WORKLOAD_PATH, "write", daemon_->volume("raw"), variant});
    EXPECT_TRUE(w.ok()) << w.err;
    return Crash({"check", Path("raw.log"), Path("raw.base"), "--fsck",
                  std::string(COMMIT_WORKLOAD_PATH) + " verify {}", "--json", "--jobs", "2"});
  }

  // The --json report of a check that must exit with `want`.
  static json Report(const CommandResult& check, int want) {
    EXPECT_EQ(check.exit_code, want) << check.out << check.err;
    auto report = json::parse(check.out, nullptr, false);
    EXPECT_FALSE(report.is_discarded()) << check.out;
    return report.is_discarded() ? json::object() : report;
  }
};

TEST_F(CrashE2eTest, Ext4ThroughLogWritesReplaysIdenticallyAndEveryCrashStateIsClean) {
  CreateLogWrites("lw", 64ull << 20, 512ull << 20);
  const std::string loop = Loop(daemon_->volume("lw"), false);
  ASSERT_FALSE(loop.empty());
  ASSERT_TRUE(RunCommand({"mkfs.ext4", "-q", "-F", "-b", "4096", loop}).ok());
  ASSERT_TRUE(daemon_->Udm({"message", "lw", "0", "mark", "mkfs"}).ok());
  const std::string mnt = Path("m");
  ASSERT_NO_FATAL_FAILURE(Mount(loop, mnt));
  auto fill = RunShell(fmt::format(
      "set -e; cd {0}; mkdir -p a/b; for i in 1 2 3 4 5 6; do head -c $((i * 70000)) "
      "/dev/urandom > a/f$i; done; sync; echo hello > a/b/c; mv a/f1 a/b/; rm a/f2; sync",
      mnt));
  ASSERT_TRUE(fill.ok()) << fill.err;
  ASSERT_NO_FATAL_FAILURE(Umount(mnt));
  Detach(loop);

  // The volume stays live: every flush completes only once its entries are
  // in the log, so the log is readable as it is.
  auto status = daemon_->Udm({"status", "lw"});
  ASSERT_TRUE(status.ok());
  auto dump = Crash({"dump", Path("lw.log")});
  ASSERT_TRUE(dump.ok()) << dump.err;
  unsigned logged = 0, highest = 0;
  ASSERT_EQ(std::sscanf(status.out.c_str(), "0 131072 log-writes %u %u", &logged, &highest), 2)
      << status.out;
  EXPECT_THAT(dump.out, HasSubstr(fmt::format("entries={} (super: {})", logged, logged)));
  EXPECT_THAT(dump.out, HasSubstr("mark 'mkfs'"));
  EXPECT_THAT(dump.out, HasSubstr("FLUSH"));

  const std::string replay = Path("replay.img");
  MakeSparseFile(replay, 64ull << 20);
  auto r = Crash({"replay", Path("lw.log"), replay});
  ASSERT_TRUE(r.ok()) << r.err;
  EXPECT_TRUE(RunCommand({"cmp", replay, Path("lw.data")}).ok());
  // Up to the mark: a fresh file system, not the filled one.
  MakeSparseFile(replay, 64ull << 20);
  ASSERT_TRUE(Crash({"replay", Path("lw.log"), replay, "--end-mark", "mkfs"}).ok());
  EXPECT_FALSE(RunCommand({"cmp", "-s", replay, Path("lw.data")}).ok());
  EXPECT_TRUE(RunCommand({"e2fsck", "-fn", replay}).ok());

  // Crash states from the mark on (before it there is no file system yet);
  // journal replay first, as a mount would, then a read-only full check.
  auto check = Crash({"check", Path("lw.log"), Path("lw.base"), "--fsck",
                      "e2fsck -E journal_only -y {} >/dev/null 2>&1; e2fsck -fn {}",
                      "--from-mark", "mkfs", "--max-states", "150", "--jobs", "2", "--json"});
  json report = Report(check, 0);
  EXPECT_EQ(report["result"], "clean");
  EXPECT_GT(report["states_checked"].get<int>(), 20);
  EXPECT_EQ(report["states_checked"], report["states_total"]);
}

TEST_F(CrashE2eTest, CommitRecordWrittenWithoutAFlushIsFoundAndShrunk) {
  CreateLogWrites("raw", 8ull << 20, 64ull << 20);
  json report = Report(CommitWorkload("wrong"), 1);
  EXPECT_EQ(report["result"], "failing");
  EXPECT_THAT(report["failing"]["checker_output"].get<std::string>(),
              HasSubstr("commit record present but its data is not"));
  // The minimal state: the commit record (sector 0) without the data
  // (sector 2048), which the shrinker names as left out.
  const json& writes = report["minimal"]["writes"];
  ASSERT_EQ(writes.size(), 1u) << report.dump(2);
  EXPECT_EQ(writes[0]["sector"], 0);
  EXPECT_EQ(writes[0]["sectors"], 8);
  EXPECT_EQ(writes[0]["flags"], "NONE");
  ASSERT_EQ(report["minimal"]["omitted_entries"].size(), 1u);
  const uint64_t data_entry = report["minimal"]["omitted_entries"][0];
  auto dump = Crash({"dump", Path("raw.log")});
  EXPECT_THAT(dump.out, HasSubstr(fmt::format("entry {}: sector 2048 +8 NONE", data_entry)));

  auto text = Crash({"check", Path("raw.log"), Path("raw.base"), "--fsck",
                     std::string(COMMIT_WORKLOAD_PATH) + " verify {}"});
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_THAT(text.out, HasSubstr("minimal failing state"));
  EXPECT_THAT(text.out, HasSubstr("sector 0 +8 NONE"));
}

TEST_F(CrashE2eTest, CommitRecordAfterFdatasyncIsClean) {
  CreateLogWrites("raw", 8ull << 20, 64ull << 20);
  json report = Report(CommitWorkload("correct"), 0);
  EXPECT_EQ(report["result"], "clean");
  EXPECT_GE(report["states_checked"].get<int>(), 3);
}

TEST_F(CrashE2eTest, BadInputIsRefusedWithExitTwoAndAMessage) {
  CreateLogWrites("raw", 8ull << 20, 64ull << 20);
  ASSERT_TRUE(daemon_->Udm({"message", "raw", "0", "mark", "m"}).ok());
  const std::string log = Path("raw.log"), base = Path("raw.base");
  auto r = Crash({"check", log, base, "--fsck", "true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("has no {} for the state's file"));
  r = Crash({"check", log, base});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("check needs --fsck"));
  r = Crash({"check", Path("nope"), base, "--fsck", "true {}"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("No such file"));
  r = Crash({"check", log, base, "--fsck", "true {}", "--states", "bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown state kind 'bogus'"));
  r = Crash({"check", log, base, "--fsck", "true {}", "--jobs", "0"});
  EXPECT_EQ(r.exit_code, 2);
  r = Crash({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command 'frobnicate'"));
  // Not a log: the base image itself.
  r = Crash({"replay", base, Path("raw.data")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("bad magic"));
  // An unknown mark changes nothing.
  const std::string target = Path("target.img");
  { std::ofstream(target) << "keep"; }
  r = Crash({"replay", log, target, "--end-mark", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("mark 'nope' is not in the log"));
  std::ifstream in(target);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "keep");
  // A target smaller than the log's writes is refused before writing.
  ASSERT_TRUE(RunCommand({COMMIT_WORKLOAD_PATH, "write", daemon_->volume("raw"), "wrong"}).ok());
  r = Crash({"replay", log, target});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("writes up to byte"));
}

}  // namespace
}  // namespace udm::test
