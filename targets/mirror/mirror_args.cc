// Parsing and re-emitting the mirror target's table arguments, with
// dm-raid1's and dm-log's checks and an error naming each bad field.
#include "mirror/mirror_args.h"

#include <bit>

#include <fmt/core.h>

#include "udm/table.h"

namespace udm::mirror {
namespace {

// Sector where the disk log's bitmap starts (the header fills sector 0).
constexpr uint64_t kLogBitsOffsetBytes = 1024;

Status ParseSyncWord(const std::string& word, SyncMode* mode) {
  if (word == "sync") {
    *mode = SyncMode::kSync;
  } else if (word == "nosync") {
    *mode = SyncMode::kNoSync;
  } else {
    return InvalidArgument("log sync argument: '{}' is not sync or nosync", word);
  }
  return {};
}

Status ParseRegionSize(const TargetContext& ctx, const std::string& word, MirrorArgs* out) {
  auto size = ParseU64(word, "region size");
  if (!size) return std::unexpected(size.error());
  if (*size < 2 || !std::has_single_bit(*size)) {
    return InvalidArgument("region size: {} sectors is not a power of two of at least 2", *size);
  }
  if (*size > ctx.length) {
    return InvalidArgument("region size: {} sectors is larger than the target ({} sectors)",
                           *size, ctx.length);
  }
  out->region_size = *size;
  out->nr_regions = (ctx.length + *size - 1) / *size;
  return {};
}

// Parses "<type> <#args> <args...>" at the front of `args`; returns how
// many arguments it used.
Result<size_t> ParseLog(const TargetContext& ctx, std::span<const std::string> args,
                        MirrorArgs* out) {
  if (args.size() < 2) {
    return InvalidArgument("expected <log type> <#log args> <log args>... first, got {} argument(s)",
                           args.size());
  }
  auto count = ParseU64(args[1], "#log args");
  if (!count) return std::unexpected(count.error());
  if (*count > args.size() - 2) {
    return InvalidArgument("#log args: {} given but only {} argument(s) follow", *count,
                           args.size() - 2);
  }
  std::span<const std::string> log_args = args.subspan(2, *count);
  if (args[0] == "core") {
    out->log_type = LogType::kCore;
    if (log_args.empty() || log_args.size() > 2) {
      return InvalidArgument("#log args: core takes <region size> [[no]sync], got {} argument(s)",
                             log_args.size());
    }
    if (auto st = ParseRegionSize(ctx, log_args[0], out); !st) return std::unexpected(st.error());
    if (log_args.size() == 2) {
      if (auto st = ParseSyncWord(log_args[1], &out->sync); !st) {
        return std::unexpected(st.error());
      }
    }
  } else if (args[0] == "disk") {
    out->log_type = LogType::kDisk;
    if (log_args.size() < 2 || log_args.size() > 3) {
      return InvalidArgument(
          "#log args: disk takes <log device> <region size> [[no]sync], got {} argument(s)",
          log_args.size());
    }
    if (auto st = ParseRegionSize(ctx, log_args[1], out); !st) return std::unexpected(st.error());
    if (log_args.size() == 3) {
      if (auto st = ParseSyncWord(log_args[2], &out->sync); !st) {
        return std::unexpected(st.error());
      }
    }
    const uint64_t need = DiskLogBytes(out->nr_regions) >> kSectorShift;
    auto dev = ctx.GetDevice(log_args[0], 0, need);
    if (!dev) return std::unexpected(dev.error().Prefixed("log device"));
    out->log_dev = std::move(*dev);
  } else {
    return InvalidArgument("log type: '{}' is not a mirror log (expected core or disk)", args[0]);
  }
  return 2 + *count;
}

Status ParseFeatures(std::span<const std::string> args, MirrorArgs* out) {
  if (args.empty()) return {};
  auto count = ParseU64(args[0], "#features");
  if (!count) return std::unexpected(count.error());
  if (*count > args.size() - 1) {
    return InvalidArgument("#features: {} given but only {} feature(s) follow", *count,
                           args.size() - 1);
  }
  if (*count < args.size() - 1) {
    return InvalidArgument("too many arguments: {} left after the {} feature(s)",
                           args.size() - 1 - *count, *count);
  }
  for (const std::string& f : args.subspan(1)) {
    if (f == "handle_errors") {
      out->handle_errors = true;
    } else if (f == "keep_log") {
      out->keep_log = true;
    } else {
      return InvalidArgument("feature: '{}' is not handle_errors or keep_log", f);
    }
  }
  if (out->keep_log && !out->handle_errors) {
    return InvalidArgument("feature: keep_log requires handle_errors");
  }
  return {};
}

}  // namespace

uint64_t DiskLogBytes(uint64_t nr_regions) {
  const uint64_t bitmap = (nr_regions + 63) / 64 * 8;
  return (kLogBitsOffsetBytes + bitmap + 4095) & ~uint64_t{4095};
}

Result<MirrorArgs> ParseMirrorArgs(const TargetContext& ctx, std::span<const std::string> args) {
  MirrorArgs out;
  auto used = ParseLog(ctx, args, &out);
  if (!used) return std::unexpected(used.error());
  args = args.subspan(*used);
  if (args.empty()) return InvalidArgument("#mirrors: missing after the log arguments");
  auto count = ParseU64(args[0], "#mirrors");
  if (!count) return std::unexpected(count.error());
  if (*count < 2 || *count > kMaxMirrors) {
    return InvalidArgument("#mirrors: {} is not between 2 and {}", *count, kMaxMirrors);
  }
  args = args.subspan(1);
  if (args.size() < 2 * *count) {
    return InvalidArgument("too few mirror arguments: #mirrors is {}, expected {} <dev> <offset> "
                           "arguments, got {}",
                           *count, 2 * *count, args.size());
  }
  for (uint64_t i = 0; i < *count; ++i) {
    auto offset = ParseU64(args[2 * i + 1], fmt::format("mirror {} offset", i));
    if (!offset) return std::unexpected(offset.error());
    auto dev = ctx.GetDevice(args[2 * i], *offset, ctx.length);
    if (!dev) return std::unexpected(dev.error().Prefixed(fmt::format("mirror {}", i)));
    out.legs.push_back(LegArgs{std::move(*dev), *offset});
  }
  if (auto st = ParseFeatures(args.subspan(2 * *count), &out); !st) {
    return std::unexpected(st.error());
  }
  return out;
}

std::string FormatMirrorTable(const MirrorArgs& args) {
  const bool sync_word = args.sync != SyncMode::kDefault;
  std::string out;
  if (args.log_type == LogType::kCore) {
    out = fmt::format("core {} {}", sync_word ? 2 : 1, args.region_size);
  } else {
    out = fmt::format("disk {} {} {}", sync_word ? 3 : 2, args.log_dev->name(), args.region_size);
  }
  if (sync_word) out += args.sync == SyncMode::kNoSync ? " nosync" : " sync";
  out += fmt::format(" {}", args.legs.size());
  for (const LegArgs& leg : args.legs) out += fmt::format(" {} {}", leg.dev->name(), leg.offset);
  const int features = (args.handle_errors ? 1 : 0) + (args.keep_log ? 1 : 0);
  if (features != 0) {
    out += fmt::format(" {}", features);
    if (args.handle_errors) out += " handle_errors";
    if (args.keep_log) out += " keep_log";
  }
  return out;
}

}  // namespace udm::mirror
