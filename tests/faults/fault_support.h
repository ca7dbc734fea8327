// Shared by the fault, crash, load and security suites: a fixture with a
// real udmd, self-describing 4 KiB blocks (which volume, which block, which
// version) to verify what a volume file holds, block I/O on volume files,
// running code as another user, and the daemon's memory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/daemon_fixture.h"
#include "support/daemon_process.h"

namespace udm::test {

constexpr size_t kBlock = 4096;
// The backing file size the fault and security suites give a volume.
constexpr uint64_t kFileBytes = 4ull << 20;

// A table of one linear target over the first `bytes` of `file`.
std::string LinearTable(const std::string& file, uint64_t bytes = kFileBytes);

// Fills `buf` (kBlock bytes) with a block that names (volume, block,
// version); version 0 is reserved for "never written" (all zeros).
void FillBlock(uint8_t* buf, uint32_t volume, uint64_t block, uint64_t version);
// The version `buf` holds: 0 for all zeros, nullopt when it is neither
// zeros nor an intact block written for (volume, block).
std::optional<uint64_t> BlockVersion(const uint8_t* buf, uint32_t volume, uint64_t block);

// A volume file (or any file) opened for 4 KiB block I/O. O_DIRECT by
// default so that every read really reaches the daemon.
class BlockFile {
 public:
  explicit BlockFile(const std::string& path, bool direct = true);
  ~BlockFile();
  BlockFile(const BlockFile&) = delete;
  BlockFile& operator=(const BlockFile&) = delete;

  bool ok() const { return fd_ >= 0; }
  int open_errno() const { return open_errno_; }
  // 0 or the errno of the failed (or short) transfer.
  int Write(uint32_t volume, uint64_t block, uint64_t version);
  int Read(uint64_t block, std::vector<uint8_t>* out);
  int Sync();  // fdatasync: 0 or errno
  // Reads `block` and checks it holds `version` of (volume, block);
  // returns a description of what is wrong, or "".
  std::string Check(uint32_t volume, uint64_t block, uint64_t version);

 private:
  int fd_ = -1;
  int open_errno_ = 0;
  uint8_t* buf_ = nullptr;  // kBlock bytes, aligned for O_DIRECT
};

// Runs `fn` in a forked child whose uid and gid are 65534 (nobody), with no
// supplementary groups; returns fn's result (the child's exit status), or
// -1 if the child died otherwise.
int RunAsNobody(const std::function<int()>& fn);
inline constexpr uid_t kNobody = 65534;

// VmRSS of `pid` in KiB (0 if unreadable).
uint64_t RssKib(pid_t pid);

// The shared daemon fixture (a real udmd on a fresh directory, stopped and
// cleaned up at the end) with the block checks these suites share.
class FaultsFixture : public DaemonFixture {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartDaemon("udm-faults")); }

  CommandResult Udm(std::vector<std::string> args, const std::string& input = "") {
    return daemon_->Udm(std::move(args), input);
  }
  // `udmsetup --json info NAME`; null JSON on failure.
  nlohmann::json Info(const std::string& name) { return daemon_->UdmJson({"info", name}); }
  // Writes `count` blocks starting at `first` through the volume file
  // (version `version`), and checks they read back.
  void WriteAndCheck(const std::string& volume, uint32_t id, uint64_t first, uint64_t count,
                     uint64_t version);
  // Checks blocks [first, first+count) of `path` hold `version`.
  void ExpectBlocks(const std::string& path, uint32_t id, uint64_t first, uint64_t count,
                    uint64_t version);
};

}  // namespace udm::test
