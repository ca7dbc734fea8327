// Registers the mirror target: parse the arguments, build a MirrorTarget.
#include "mirror/mirror.h"

#include "mirror/mirror_args.h"
#include "mirror/mirror_target.h"

namespace udm {
namespace {

Result<std::unique_ptr<Target>> CreateMirror(const TargetContext& ctx,
                                             std::span<const std::string> args) {
  auto parsed = mirror::ParseMirrorArgs(ctx, args);
  if (!parsed) return std::unexpected(parsed.error());
  return std::make_unique<mirror::MirrorTarget>(std::move(*parsed), ctx.length, ctx.raise_event);
}

}  // namespace

constinit const TargetType kMirrorTarget{"mirror", {1, 15, 0}, &CreateMirror};

}  // namespace udm
