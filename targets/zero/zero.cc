// The zero target: no device behind it. Reads are filled with zeros, writes,
// discards and write-zeroes are dropped. A port of the kernel's dm-zero.c.
#include "zero/zero.h"

namespace udm {
namespace {

class ZeroTarget : public Target {
 public:
  // Completes every request here, successfully.
  MapResult Map(Bio* bio) override {
    if (bio->op == Op::kRead) ZeroBio(*bio, 0, bio->bytes());
    EndClone(bio, 0);
    return MapResult::kSubmitted;
  }

  std::string StatusLine(StatusType) const override { return {}; }
};

Result<std::unique_ptr<Target>> CreateZero(const TargetContext&,
                                           std::span<const std::string> args) {
  if (!args.empty()) return InvalidArgument("takes no arguments, got {}", args.size());
  return std::make_unique<ZeroTarget>();
}

}  // namespace

constinit const TargetType kZeroTarget{"zero", {1, 2, 0}, &CreateZero};

}  // namespace udm
