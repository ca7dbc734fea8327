// Backing files that go wrong under a live volume: renamed or unlinked (the
// daemon holds the file, so I/O goes on; a reload naming the missing path is
// refused and changes nothing), truncated (I/O past the new end fails with
// EIO), or on a full filesystem (writes fail with ENOSPC). Every other
// volume keeps serving, info says what failed, and once the fault is fixed a
// reload brings the volume back.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include <fmt/core.h>

#include "control/client.h"
#include "faults/fault_support.h"

namespace udm::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using nlohmann::json;

constexpr uint64_t kBlocks = kFileBytes / kBlock;
constexpr uint32_t kFaulty = 1, kOther = 2;  // block ids of the two volumes

class FaultTest : public FaultsFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(FaultsFixture::SetUp());
    other_ = Backing("other.img", kFileBytes);
    ASSERT_TRUE(Udm({"create", "other", "--table", LinearTable(other_)}).ok());
  }

  // The bystander: each call writes a new version everywhere and reads it back.
  void OtherVolumeServes() {
    SCOPED_TRACE("the other volume");
    WriteAndCheck("other", kOther, 0, kBlocks / 4, ++other_version_);
    json info = Info("other");
    EXPECT_EQ(info["errors"], 0) << info.dump();
    EXPECT_EQ(info["last_error"], "") << info.dump();
  }

  // suspend, load `table`, resume, as a user fixing a volume would.
  void Reload(const std::string& name, const std::string& table) {
    ASSERT_TRUE(Udm({"suspend", name}).ok());
    auto load = Udm({"load", name, "--table", table});
    auto resume = Udm({"resume", name});
    ASSERT_TRUE(load.ok()) << load.err;
    ASSERT_TRUE(resume.ok()) << resume.err;
  }

  // A load naming `table` is refused with a message naming `path`, and the
  // volume is as it was: live table unchanged, nothing inactive, I/O going on.
  void LoadRefused(const std::string& name, const std::string& table, const std::string& path) {
    const std::string before = Udm({"table", name}).out;
    auto load = Udm({"load", name, "--table", table});
    EXPECT_NE(load.exit_code, 0);
    EXPECT_THAT(load.err, HasSubstr(path));
    EXPECT_THAT(load.err, HasSubstr("No such file or directory"));
    json info = Info(name);
    EXPECT_EQ(info["inactive_table"], false) << info.dump();
    EXPECT_EQ(info["state"], "ACTIVE") << info.dump();
    EXPECT_EQ(Udm({"table", name}).out, before);
  }

  std::string other_;
  uint64_t other_version_ = 0;
};

TEST_F(FaultTest, RenamedOrUnlinkedBackingFileKeepsServingAndAReloadOfTheMissingPathIsRefused) {
  const std::string a = Backing("a.img", kFileBytes);
  ASSERT_TRUE(Udm({"create", "v", "--table", LinearTable(a)}).ok());
  WriteAndCheck("v", kFaulty, 0, kBlocks, 1);

  // Renamed: the daemon holds the file, so writes land in it under its new name.
  const std::string moved = dir_ + "/a.moved";
  fs::rename(a, moved);
  WriteAndCheck("v", kFaulty, 0, kBlocks / 2, 2);
  ExpectBlocks(moved, kFaulty, 0, kBlocks / 2, 2);
  LoadRefused("v", LinearTable(a), a);
  OtherVolumeServes();
  fs::rename(moved, a);
  Reload("v", LinearTable(a));
  ExpectBlocks(Vol("v"), kFaulty, 0, kBlocks / 2, 2);
  ExpectBlocks(Vol("v"), kFaulty, kBlocks / 2, kBlocks / 2, 1);

  // Unlinked: still served from the open file, which is the only copy now.
  fs::remove(a);
  WriteAndCheck("v", kFaulty, 0, kBlocks, 3);
  LoadRefused("v", LinearTable(a), a);
  OtherVolumeServes();
  // The user's way out: copy the volume (still intact) to a new file and
  // reload onto it.
  ASSERT_TRUE(RunCommand({"cp", Vol("v"), a}).ok());
  Reload("v", LinearTable(a));
  ExpectBlocks(Vol("v"), kFaulty, 0, kBlocks, 3);
  WriteAndCheck("v", kFaulty, 0, kBlocks, 4);
  ExpectBlocks(a, kFaulty, 0, kBlocks, 4);
  json info = Info("v");
  EXPECT_EQ(info["errors"], 0) << info.dump();
}

TEST_F(FaultTest, TruncatedBackingFileFailsIoPastTheNewEndWithEioUntilRestored) {
  const std::string a = Backing("a.img", kFileBytes);
  ASSERT_TRUE(Udm({"create", "v", "--table", LinearTable(a)}).ok());
  WriteAndCheck("v", kFaulty, 0, kBlocks, 1);
  const std::string backup = dir_ + "/a.backup";
  fs::copy_file(a, backup);

  const uint64_t keep = kBlocks / 4;  // blocks left after the truncation
  fs::resize_file(a, keep * kBlock);
  {
    BlockFile f(Vol("v"));
    ASSERT_TRUE(f.ok());
    std::vector<uint8_t> data;
    EXPECT_EQ(f.Read(keep + 1, &data), EIO);
    EXPECT_EQ(f.Read(kBlocks - 1, &data), EIO);
    EXPECT_EQ(f.Write(kFaulty, keep + 2, 2), EIO);
    // The failed write did not grow the file into a hole that reads as zeros.
    EXPECT_EQ(fs::file_size(a), keep * kBlock);
    EXPECT_EQ(f.Check(kFaulty, keep - 1, 1), "");  // before the end: intact
    EXPECT_EQ(f.Write(kFaulty, 0, 2), 0);
    EXPECT_EQ(f.Check(kFaulty, 0, 2), "");
  }
  json info = Info("v");
  EXPECT_EQ(info["errors"], 3) << info.dump();
  EXPECT_THAT(info["last_error"].get<std::string>(),
              HasSubstr(fmt::format("write to {} at sector {}: Input/output error", a,
                                    (keep + 2) * kBlock / 512)));
  EXPECT_THAT(Udm({"info", "v"}).out, HasSubstr("Last error:        write to " + a));
  OtherVolumeServes();

  // Restored from the backup (a new file under the old name); a reload
  // opens it and the volume is whole again.
  fs::rename(backup, a);
  Reload("v", LinearTable(a));
  ExpectBlocks(Vol("v"), kFaulty, 1, kBlocks - 1, 1);
  WriteAndCheck("v", kFaulty, 0, kBlocks, 3);
  info = Info("v");
  EXPECT_EQ(info["errors"], 3) << "no new errors after the restore: " << info.dump();
}

TEST_F(FaultTest, FullFilesystemFailsWritesWithEnospcUntilSpaceIsFreed) {
  const std::string small = dir_ + "/small";
  fs::create_directory(small);
  ASSERT_TRUE(RunCommand({"mount", "-t", "tmpfs", "-o", "size=4m", "udm-faults", small}).ok());
  mounts_.push_back(small);
  const std::string filler = small + "/filler";
  ASSERT_TRUE(RunCommand({"dd", "if=/dev/zero", "of=" + filler, "bs=1M", "count=2"}).ok());
  const std::string a = small + "/a.img";  // 4 MiB, sparse, on 2 MiB of free space
  MakeSparseFile(a, kFileBytes);
  ASSERT_TRUE(Udm({"create", "v", "--table", LinearTable(a)}).ok());

  // Fill it: writes succeed until the filesystem is full, then fail with ENOSPC.
  uint64_t written = 0;
  int err = 0;
  {
    BlockFile f(Vol("v"));
    ASSERT_TRUE(f.ok());
    for (; written < kBlocks; ++written) {
      if ((err = f.Write(kFaulty, written, 1)) != 0) break;
    }
    EXPECT_EQ(err, ENOSPC) << "after " << written << " blocks";
    EXPECT_GT(written, kBlocks / 8);
    EXPECT_LT(written, kBlocks * 3 / 4);
    EXPECT_EQ(f.Write(kFaulty, written, 1), ENOSPC) << "still full";
    EXPECT_EQ(f.Sync(), 0);  // what was written is there
  }
  {
    BlockFile buffered(Vol("v"), /*direct=*/false);  // through the page cache too
    ASSERT_TRUE(buffered.ok());
    EXPECT_EQ(buffered.Write(kFaulty, written + 1, 1), ENOSPC);
  }
  ExpectBlocks(Vol("v"), kFaulty, 0, written, 1);
  json info = Info("v");
  EXPECT_GE(info["errors"], 3) << info.dump();
  EXPECT_THAT(info["last_error"].get<std::string>(),
              HasSubstr(fmt::format("write to {} at sector", a)));
  EXPECT_THAT(info["last_error"].get<std::string>(), HasSubstr("No space left on device"));
  OtherVolumeServes();

  // A watcher (the dashboard) sees it too.
  {
    auto client = daemon::ControlClient::Connect(daemon_->socket());
    ASSERT_TRUE(client.has_value()) << client.error().message;
    client->set_timeout_ms(10000);
    ASSERT_TRUE(client->Call("watch", {{"interval_ms", 50}}).has_value());
    auto snap = client->ReadSnapshot(10000);
    ASSERT_TRUE(snap.has_value());
    bool seen = false;
    for (const json& vol : (*snap)["volumes"]) {
      if (vol["name"] != "v") continue;
      seen = true;
      EXPECT_THAT(vol["last_error"].get<std::string>(), HasSubstr("No space left on device"));
    }
    EXPECT_TRUE(seen);
  }

  // Space freed; a reload and the rest of the volume takes writes again.
  fs::remove(filler);
  Reload("v", LinearTable(a));
  const uint64_t more = std::min<uint64_t>(kBlocks - written, 512);
  WriteAndCheck("v", kFaulty, written, more, 2);
  ExpectBlocks(Vol("v"), kFaulty, 0, written, 1);
  ExpectBlocks(a, kFaulty, written, more, 2);
}

}  // namespace
}  // namespace udm::test
