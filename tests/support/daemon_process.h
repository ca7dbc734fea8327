// A real udmd process for end-to-end tests: started on its own state
// directory with --foreground, its log captured to a file, driven with
// udmsetup, stopped with a signal. Used by every suite that needs the whole
// daemon (daemon, targets through FUSE, dashboard, crash checker, faults).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/command.h"

namespace udm::test {

struct DaemonPaths {
  std::string udmd;      // the udmd binary
  std::string udmsetup;  // the udmsetup binary
};

class DaemonProcess {
 public:
  // `dir` holds state/, mnt/ and udmd.log; it must exist.
  DaemonProcess(std::string dir, DaemonPaths paths);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  std::string state() const { return dir_ + "/state"; }
  std::string mount() const { return dir_ + "/mnt"; }
  std::string socket() const { return dir_ + "/state/udm.sock"; }
  std::string volume(const std::string& name) const { return mount() + "/" + name; }
  std::string log() const;
  pid_t pid() const { return pid_; }

  // Starts udmd and waits until its socket answers; false if it died.
  bool Start(const std::vector<std::string>& extra_args = {});
  // Stops the daemon with `sig` and waits up to 30 s for it (then kills
  // it); true if it exited 0 in time.
  bool Stop(int sig);

  // Runs `udmsetup --socket SOCKET args...`.
  CommandResult Udm(std::vector<std::string> args, const std::string& input = "",
                    int timeout_s = 60) const;
  // Runs `udmsetup --json ...` and parses its output (null JSON on failure).
  nlohmann::json UdmJson(std::vector<std::string> args) const;

 private:
  const std::string dir_;
  const DaemonPaths paths_;
  pid_t pid_ = -1;
};

// Makes a fresh directory under /var/tmp (not tmpfs: O_DIRECT works there).
std::string MakeTempDir(const std::string& prefix);
// Creates (or truncates) `path` as a sparse file of `bytes`.
void MakeSparseFile(const std::string& path, uint64_t bytes);
// Reads `len` bytes at `off` from `path` (short on error).
std::vector<uint8_t> ReadFileRange(const std::string& path, uint64_t off, size_t len);
// `losetup -f --show [--direct-io=on|off] file`: the device path, or "".
std::string AttachLoop(const std::string& file, bool direct_io);

}  // namespace udm::test
