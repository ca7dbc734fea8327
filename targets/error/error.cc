// The error target: fails every request with -EIO. Flushes skip it
// (num_flush_bios 0), so they succeed. Like io_err in the kernel's dm-target.c.
#include "error/error.h"

namespace udm {
namespace {

class ErrorTarget : public Target {
 public:
  MapResult Map(Bio*) override { return MapResult::kKill; }
  std::string StatusLine(StatusType) const override { return {}; }
};

Result<std::unique_ptr<Target>> CreateError(const TargetContext&,
                                            std::span<const std::string> args) {
  if (!args.empty()) return InvalidArgument("takes no arguments, got {}", args.size());
  return std::make_unique<ErrorTarget>();
}

}  // namespace

constinit const TargetType kErrorTarget{"error", {1, 6, 0}, &CreateError};

}  // namespace udm
