// Every registered target's argument parser. The first byte picks a target
// type from the built-in registry (so targets registered later are covered
// without touching this file), the next eight give the target's length in
// sectors, the next its writability, and the rest is the argument text.
// A target that accepts its arguments must re-emit them (StatusLine(kTable))
// so that the same create() accepts them again and re-emits the same line,
// as `udmsetup table` output fed back to `udmsetup load` relies on.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz/fuzz_support.h"
#include "udm/table.h"
#include "udm/target_registry.h"
#include "udm/targets/builtin.h"

namespace udm::fuzz {
namespace {

struct Input {
  const TargetType* type;
  TargetContext ctx;
  std::vector<std::string> args;
};

bool Decode(const uint8_t* data, size_t size, Input* in) {
  constexpr size_t kHeader = 10;
  if (size < kHeader) return false;
  const auto types = BuiltinTargets().List();
  if (types.empty()) return false;
  in->type = types[data[0] % types.size()];
  uint64_t length = 0;
  std::memcpy(&length, data + 1, sizeof(length));
  // The table parser refuses 0 and anything past the largest volume.
  in->ctx.length = std::clamp<uint64_t>(length, 1, kMaxTableSectors);
  in->ctx.writable = (data[9] & 1) != 0;
  in->ctx.resolver = &Devices();
  in->ctx.raise_event = [] {};
  in->args = SplitWords(std::string_view(reinterpret_cast<const char*>(data) + kHeader, size - kHeader));
  return true;
}

void Exercise(Target& target) {
  (void)target.StatusLine(StatusType::kInfo);
  (void)target.max_io_len();
  (void)target.num_flush_bios();
  target.IterateDevices([](BlockDevice& dev) { Check(dev.sectors() > 0, "a device of no size"); });
}

}  // namespace
}  // namespace udm::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace udm;
  using namespace udm::fuzz;
  Input in;
  if (!Decode(data, size, &in)) return 0;
  auto target = in.type->create(in.ctx, in.args);
  if (!target) {
    Check(!target.error().message.empty(), "a refusal without a message", in.type->name);
    return 0;
  }
  Exercise(**target);
  const std::string line = (*target)->StatusLine(StatusType::kTable);
  const std::vector<std::string> again_args = SplitWords(line);
  auto again = in.type->create(in.ctx, again_args);
  const std::string what = std::string(in.type->name) + " args '" + line + "'";
  Check(again.has_value(), "re-emitted arguments are refused",
        what + (again ? "" : ": " + again.error().message));
  Check((*again)->StatusLine(StatusType::kTable) == line, "re-emitted arguments change", what);
  return 0;
}
