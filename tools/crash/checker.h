// Running the user's checker command on one crash state: "{}" in the
// command becomes the state's file path (shell-quoted), the command runs
// through /bin/sh, and its exit status and the tail of its output come back.
#pragma once

#include <string>

#include "udm/error.h"

namespace udm::crash {

struct CheckerResult {
  int exit_code = -1;  // -1: killed by a signal
  std::string output;  // stdout and stderr, the last few KiB
  bool ok() const { return exit_code == 0; }
};

// Fails if `command` has no "{}".
Status ValidateCheckerCommand(const std::string& command);
// The command line with every "{}" replaced by the quoted `path`.
std::string ExpandCommand(const std::string& command, const std::string& path);
CheckerResult RunChecker(const std::string& command, const std::string& path);

}  // namespace udm::crash
