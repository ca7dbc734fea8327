// Replaying a dm-log-writes log onto a device or file, as xfstests'
// replay-log does: entries in log order, writes copied, discards zeroed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "log_reader.h"

namespace udm::crash {

struct ReplayOptions {
  std::optional<uint64_t> limit;        // replay this many entries
  std::optional<std::string> end_mark;  // replay up to and including this mark
};

// How many entries of `log` the options select; an unknown mark is an error.
Result<uint64_t> SelectEntries(const ParsedLog& log, const ReplayOptions& opts);

// Replays the selected entries onto `path` (a file or block device) and
// syncs it. Checks first that every write fits, so a bad target changes
// nothing. Returns the number of entries replayed.
Result<uint64_t> ReplayLog(const ParsedLog& log, const std::string& path,
                           const ReplayOptions& opts);

}  // namespace udm::crash
