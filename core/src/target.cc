// TargetContext helpers shared by every target's constructor.
#include "udm/target.h"

namespace udm {

Result<std::shared_ptr<BlockDevice>> TargetContext::GetDevice(std::string_view spec,
                                                              uint64_t offset,
                                                              uint64_t len) const {
  if (resolver == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, EINVAL, "no device resolver to open '{}'", spec);
  }
  auto dev = resolver->Open(spec, writable);
  if (!dev) return std::unexpected(dev.error());
  const uint64_t size = (*dev)->sectors();
  if (offset > size || len > size - offset) {
    return Fail(ErrorCode::kInvalidArgument, EINVAL,
                "device {} too small for target: start={} len={} dev_size={}", spec, offset, len,
                size);
  }
  return dev;
}

}  // namespace udm
