// Parsing and printing dm-flakey's feature arguments.
#include "flakey/flakey_features.h"

#include <fmt/core.h>

#include "target_args.h"

namespace udm {
namespace {

constexpr uint64_t kMaxFeatureArgs = 11;  // as dm-flakey: every feature with its parameters

Status SetOnce(bool& flag, std::string_view name) {
  if (flag) return InvalidArgument("feature {} duplicated", name);
  flag = true;
  return {};
}

// corrupt_bio_byte <Nth_byte> <direction> <value> <flags>
Status ParseCorruptBioByte(std::span<const std::string> p, FlakeyFeatures& f) {
  if (f.corrupt_byte != 0) return InvalidArgument("feature corrupt_bio_byte duplicated");
  if (p.size() < 4) {
    return InvalidArgument(
        "feature corrupt_bio_byte needs 4 parameters <Nth byte> <r|w> <value> <flags>, got {}",
        p.size());
  }
  auto nth = ParseBounded(p[0], "corrupt_bio_byte <Nth byte>", 1, UINT32_MAX);
  if (!nth) return std::unexpected(nth.error());
  if (EqualsIgnoreCase(p[1], "w")) {
    f.corrupt_writes = true;
  } else if (EqualsIgnoreCase(p[1], "r")) {
    f.corrupt_writes = false;
  } else {
    return InvalidArgument("corrupt_bio_byte <direction>: '{}' must be r or w", p[1]);
  }
  auto value = ParseBounded(p[2], "corrupt_bio_byte <value>", 0, 255);
  if (!value) return std::unexpected(value.error());
  auto flags = ParseBounded(p[3], "corrupt_bio_byte <flags>", 0, UINT32_MAX);
  if (!flags) return std::unexpected(flags.error());
  f.corrupt_byte = static_cast<uint32_t>(*nth);
  f.corrupt_value = static_cast<uint8_t>(*value);
  f.corrupt_flags = static_cast<uint32_t>(*flags);
  return {};
}

Status ParseProbability(std::span<const std::string> p, std::string_view name, uint32_t& out) {
  if (out != 0) return InvalidArgument("feature {} duplicated", name);
  if (p.empty()) return InvalidArgument("feature {} needs a parameter <probability>", name);
  auto v = ParseBounded(p[0], fmt::format("{} <probability>", name), 0, kFlakeyProbabilityBase);
  if (!v) return std::unexpected(v.error());
  out = static_cast<uint32_t>(*v);
  return {};
}

}  // namespace

Result<FlakeyFeatures> ParseFlakeyFeatures(std::span<const std::string> args) {
  FlakeyFeatures f;
  if (!args.empty()) {
    auto count = ParseBounded(args[0], "#features", 0, kMaxFeatureArgs);
    if (!count) return std::unexpected(count.error());
    if (args.size() - 1 != *count) {
      return InvalidArgument("#features is {} but {} feature arguments follow", *count,
                             args.size() - 1);
    }
    std::span<const std::string> rest = args.subspan(1);
    while (!rest.empty()) {
      const std::string& name = rest[0];
      rest = rest.subspan(1);
      Status st;
      size_t used = 0;
      if (EqualsIgnoreCase(name, "error_reads")) {
        st = SetOnce(f.error_reads, "error_reads");
      } else if (EqualsIgnoreCase(name, "drop_writes")) {
        st = SetOnce(f.drop_writes, "drop_writes");
      } else if (EqualsIgnoreCase(name, "error_writes")) {
        st = SetOnce(f.error_writes, "error_writes");
      } else if (EqualsIgnoreCase(name, "corrupt_bio_byte")) {
        st = ParseCorruptBioByte(rest, f);
        used = 4;
      } else if (EqualsIgnoreCase(name, "random_read_corrupt")) {
        st = ParseProbability(rest, "random_read_corrupt", f.random_read_corrupt);
        used = 1;
      } else if (EqualsIgnoreCase(name, "random_write_corrupt")) {
        st = ParseProbability(rest, "random_write_corrupt", f.random_write_corrupt);
        used = 1;
      } else {
        return InvalidArgument(
            "unknown feature '{}' (known: error_reads, drop_writes, error_writes, "
            "corrupt_bio_byte, random_read_corrupt, random_write_corrupt)",
            name);
      }
      if (!st) return std::unexpected(st.error());
      rest = rest.subspan(used);
    }
  }
  if (f.drop_writes && f.error_writes) {
    return InvalidArgument("feature drop_writes conflicts with feature error_writes");
  }
  if (f.corrupt_byte != 0 && f.corrupt_writes && (f.drop_writes || f.error_writes)) {
    return InvalidArgument("{} is incompatible with corrupt_bio_byte with the w direction",
                           f.drop_writes ? "drop_writes" : "error_writes");
  }
  if (!f.error_reads && !f.drop_writes && !f.error_writes && f.corrupt_byte == 0 &&
      f.random_read_corrupt == 0 && f.random_write_corrupt == 0) {
    f.error_reads = f.error_writes = true;
  }
  return f;
}

std::string FlakeyFeaturesText(const FlakeyFeatures& f) {
  const unsigned count = unsigned{f.error_reads} + unsigned{f.drop_writes || f.error_writes} +
                         (f.corrupt_byte != 0 ? 5 : 0) + (f.random_read_corrupt != 0 ? 2 : 0) +
                         (f.random_write_corrupt != 0 ? 2 : 0);
  std::string out = fmt::format(" {}", count);
  if (f.error_reads) out += " error_reads";
  if (f.drop_writes) out += " drop_writes";
  if (f.error_writes) out += " error_writes";
  if (f.corrupt_byte != 0) {
    out += fmt::format(" corrupt_bio_byte {} {} {} {}", f.corrupt_byte,
                       f.corrupt_writes ? 'w' : 'r', f.corrupt_value, f.corrupt_flags);
  }
  if (f.random_read_corrupt != 0) out += fmt::format(" random_read_corrupt {}", f.random_read_corrupt);
  if (f.random_write_corrupt != 0) {
    out += fmt::format(" random_write_corrupt {}", f.random_write_corrupt);
  }
  return out;
}

}  // namespace udm
