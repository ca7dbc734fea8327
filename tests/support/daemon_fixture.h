// A GoogleTest fixture for suites that run the real daemon: a fresh
// directory under /var/tmp, udmd started on it, and on teardown everything
// the test left behind (file system mounts, loop devices, the daemon, its
// FUSE mount, the directory) undone. Header-only: it needs UDMD_PATH and
// UDMSETUP_PATH, which udm_add_daemon_test defines for each suite.
#pragma once

#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/command.h"
#include "support/daemon_process.h"

namespace udm::test {

class DaemonFixture : public ::testing::Test {
 protected:
  // Makes dir_ (named after `prefix`) and starts udmd on it.
  void StartDaemon(const std::string& prefix) {
    dir_ = MakeTempDir(prefix);
    ASSERT_FALSE(dir_.empty());
    daemon_ = std::make_unique<DaemonProcess>(dir_, DaemonPaths{UDMD_PATH, UDMSETUP_PATH});
    ASSERT_TRUE(daemon_->Start()) << daemon_->log();
  }

  void TearDown() override {
    for (const auto& m : mounts_) RunCommand({"umount", "-l", m});
    for (const auto& l : loops_) RunCommand({"losetup", "-d", l});
    if (daemon_) {
      EXPECT_TRUE(daemon_->Stop(SIGTERM)) << daemon_->log();
    }
    if (!dir_.empty()) {
      RunCommand({"umount", "-l", daemon_ ? daemon_->mount() : dir_ + "/mnt"});
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // `losetup` on `file`; detached at teardown unless Detach()ed before.
  std::string Loop(const std::string& file, bool direct) {
    std::string dev = AttachLoop(file, direct);
    EXPECT_FALSE(dev.empty()) << "losetup " << file;
    if (!dev.empty()) loops_.push_back(dev);
    return dev;
  }
  void Detach(const std::string& dev) {
    EXPECT_TRUE(RunCommand({"losetup", "-d", dev}).ok()) << dev;
    std::erase(loops_, dev);
  }
  // Mounts `dev` on `dir` (created if missing); unmounted at teardown
  // unless Umount()ed before.
  void Mount(const std::string& dev, const std::string& dir) {
    std::filesystem::create_directories(dir);
    auto r = RunCommand({"mount", dev, dir});
    ASSERT_TRUE(r.ok()) << r.err;
    mounts_.push_back(dir);
  }
  void Umount(const std::string& dir) {
    auto r = RunCommand({"umount", dir});
    ASSERT_TRUE(r.ok()) << r.err;
    std::erase(mounts_, dir);
  }
  std::string Vol(const std::string& name) const { return daemon_->volume(name); }
  // A sparse backing file of `bytes` under the test directory.
  std::string Backing(const std::string& name, uint64_t bytes) const {
    const std::string path = dir_ + "/" + name;
    MakeSparseFile(path, bytes);
    return path;
  }

  std::string dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::vector<std::string> loops_, mounts_;
};

}  // namespace udm::test
