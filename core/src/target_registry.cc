// TargetRegistry: name -> TargetType.
#include "udm/target_registry.h"

namespace udm {

Status TargetRegistry::Register(const TargetType& type) {
  auto [it, inserted] = types_.emplace(std::string(type.name), &type);
  if (!inserted) {
    return Fail(ErrorCode::kAlreadyExists, EEXIST, "target type '{}' is already registered",
                type.name);
  }
  return {};
}

const TargetType* TargetRegistry::Find(std::string_view name) const {
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : it->second;
}

std::vector<const TargetType*> TargetRegistry::List() const {
  std::vector<const TargetType*> out;
  for (const auto& [name, type] : types_) out.push_back(type);
  return out;
}

}  // namespace udm
