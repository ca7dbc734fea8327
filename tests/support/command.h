// Running real programs from tests (udmd, udmsetup, losetup, mkfs, fio):
// argv in, exit status and captured output back, with a time limit.
#pragma once

#include <string>
#include <vector>

namespace udm::test {

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  bool timed_out = false;
  std::string out, err;
  bool ok() const { return exit_code == 0; }
};

// Runs argv[0] (searched in PATH) with `input` on stdin; kills it after
// `timeout_s` seconds.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "",
                         int timeout_s = 120);
// Runs a shell command line through /bin/sh -c.
CommandResult RunShell(const std::string& line, int timeout_s = 120);

}  // namespace udm::test
