// The linear target: "<dev> <offset>" maps sector begin()+n of the table to
// sector offset+n of <dev>. A port of the kernel's dm-linear.c.
#include "linear/linear.h"

#include <fmt/core.h>

#include "udm/table.h"

namespace udm {
namespace {

class LinearTarget : public Target {
 public:
  LinearTarget(std::shared_ptr<BlockDevice> dev, uint64_t offset)
      : dev_(std::move(dev)), offset_(offset) {}

  MapResult Map(Bio* bio) override {
    bio->device = dev_.get();
    // An empty flush has no position; give it one on the device anyway.
    bio->sector = bio->op == Op::kFlush ? offset_ : offset_ + (bio->sector - begin());
    return MapResult::kRemapped;
  }

  std::string StatusLine(StatusType type) const override {
    if (type == StatusType::kInfo) return {};
    return fmt::format("{} {}", dev_->name(), offset_);
  }

  void IterateDevices(const std::function<void(BlockDevice&)>& fn) const override { fn(*dev_); }

  uint32_t num_flush_bios() const override { return 1; }

 private:
  const std::shared_ptr<BlockDevice> dev_;
  const uint64_t offset_;  // sector on dev_ that begin() maps to
};

Result<std::unique_ptr<Target>> CreateLinear(const TargetContext& ctx,
                                             std::span<const std::string> args) {
  if (args.size() != 2) {
    return InvalidArgument("expected 2 arguments <dev> <offset>, got {}", args.size());
  }
  auto offset = ParseU64(args[1], "offset");
  if (!offset) return std::unexpected(offset.error());
  auto dev = ctx.GetDevice(args[0], *offset, ctx.length);
  if (!dev) return std::unexpected(dev.error());
  return std::make_unique<LinearTarget>(std::move(*dev), *offset);
}

}  // namespace

constinit const TargetType kLinearTarget{"linear", {1, 4, 0}, &CreateLinear};

}  // namespace udm
