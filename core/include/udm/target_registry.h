// The registry of target types, filled in one place (targets/builtin.cc).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "udm/error.h"
#include "udm/target.h"

namespace udm {

class TargetRegistry {
 public:
  // Adds `type`; fails if its name is taken. `type` must outlive the registry.
  Status Register(const TargetType& type);
  // Returns nullptr if there is no such target.
  const TargetType* Find(std::string_view name) const;
  // All types, sorted by name.
  std::vector<const TargetType*> List() const;

 private:
  std::map<std::string, const TargetType*, std::less<>> types_;
};

}  // namespace udm
