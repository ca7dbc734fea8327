// `udm-crash check`: enumerate crash states of a log over a base image,
// run a checker on each (in parallel, each state a file in udm-crash's own
// FUSE directory), report the first failing one shrunk to a minimal set of
// writes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "crash_states.h"

namespace udm::crash {

struct CheckOptions {
  std::string log_path;
  std::string base_path;
  std::string command;  // with {} for the state's path
  StateOptions states;
  std::optional<std::string> from_mark;  // crash points only after this mark
  bool scan_past_super = false;          // a live log whose super lags
  unsigned jobs = 1;
  bool json = false;
  std::string workdir = "/tmp";  // where the FUSE directory is made
};

// Prints the report (stdout) and progress (stderr); returns the exit code:
// 0 every state passed, 1 a state failed, 2 bad input.
int RunCheck(const CheckOptions& opts);

}  // namespace udm::crash
