// A DeviceResolver for tests: table lines name devices registered with Add()
// (e.g. "mem0"); anything else is "not found".
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "udm/target.h"

namespace udm::test {

class TestResolver : public DeviceResolver {
 public:
  // Registers `dev` under its name().
  void Add(std::shared_ptr<BlockDevice> dev);
  Result<std::shared_ptr<BlockDevice>> Open(std::string_view spec, bool writable) override;

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<BlockDevice>, std::less<>> devices_;  // guarded by mu_
};

}  // namespace udm::test
