// TestResolver: name -> registered device.
#include "support/test_resolver.h"

namespace udm::test {

void TestResolver::Add(std::shared_ptr<BlockDevice> dev) {
  std::lock_guard<std::mutex> g(mu_);
  std::string name = dev->name();
  devices_[name] = std::move(dev);
}

Result<std::shared_ptr<BlockDevice>> TestResolver::Open(std::string_view spec, bool) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = devices_.find(spec);
  if (it == devices_.end()) {
    return Fail(ErrorCode::kNotFound, ENOENT, "device '{}' not found", spec);
  }
  return it->second;
}

}  // namespace udm::test
