// Table input for udmsetup create/load, as dmsetup takes it (--table
// lines, a FILE argument, or stdin), and the rewrite of relative device
// paths to absolute ones before the table is sent to udmd.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "control/udmsetup_args.h"
#include "udm/error.h"

namespace udm::daemon::udmsetup {

// The table text of a create/load command: the --table values joined by
// '\n' (each may hold several lines), else the contents of the FILE
// argument, else all of `stdin_fd` unless it is a terminal. nullopt means
// no table (--notable, a terminal or nothing on stdin); `load` requires one.
Result<std::optional<std::string>> ReadTableInput(const CliCommand& command, int stdin_fd);

// Makes relative device paths in `table` absolute against `cwd`. In each
// line (up to a field starting with '#', which comments the rest) the
// fields after <start> <length> <target> are checked; a field is rewritten
// to `cwd`/field (lexically normalised) when it
//   - starts with "./" or "../", or
//   - is not a number, does not start with '/' or "udm:", and names an
//     existing regular file or block device relative to `cwd`.
// Lines with nothing to rewrite are kept byte for byte; rewritten lines
// have their fields joined by single spaces.
std::string AbsolutizeTablePaths(std::string_view table, const std::string& cwd);

}  // namespace udm::daemon::udmsetup
