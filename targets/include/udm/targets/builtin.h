// The one place the built-in targets are registered.
#pragma once

#include "udm/target_registry.h"

namespace udm {

// Registers linear, log-writes, striped, zero and error into `registry`.
void RegisterBuiltinTargets(TargetRegistry& registry);

// A registry with every built-in target, built once.
const TargetRegistry& BuiltinTargets();

}  // namespace udm
