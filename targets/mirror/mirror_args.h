// The mirror target's table arguments, as dm-raid1 and dm-log take them:
//   <log_type> <#log_args> <log_args...> <#mirrors> <dev> <off>...
//   [<#features> handle_errors [keep_log]]
// with log types "core <region_size> [[no]sync]" and
// "disk <log_dev> <region_size> [[no]sync]".
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "udm/target.h"

namespace udm::mirror {

// At most this many legs, as the kernel (one source plus kcopyd's eight
// destinations).
inline constexpr size_t kMaxMirrors = 9;

enum class LogType { kCore, kDisk };
// How regions start out: from the log (default), all out of sync ("sync":
// full resync), or all in sync ("nosync").
enum class SyncMode { kDefault, kSync, kNoSync };

struct LegArgs {
  std::shared_ptr<BlockDevice> dev;
  uint64_t offset = 0;  // sector of the leg on dev that the target's start maps to
};

struct MirrorArgs {
  LogType log_type = LogType::kCore;
  std::shared_ptr<BlockDevice> log_dev;  // disk log only
  uint64_t region_size = 0;              // sectors, a power of two
  SyncMode sync = SyncMode::kDefault;
  std::vector<LegArgs> legs;
  bool handle_errors = false;
  bool keep_log = false;

  uint64_t nr_regions = 0;  // ceil(target length / region_size)
};

// Bytes the disk log occupies at the start of its device for `nr_regions`.
uint64_t DiskLogBytes(uint64_t nr_regions);

// Parses and checks the arguments and opens every device. Errors name the
// field that is wrong.
Result<MirrorArgs> ParseMirrorArgs(const TargetContext& ctx, std::span<const std::string> args);

// The table arguments back, in dm-raid1's order and spelling.
std::string FormatMirrorTable(const MirrorArgs& args);

}  // namespace udm::mirror
