// The one place the built-in targets are registered: one line per target.
// Each TargetType is a constant-initialised object, so nothing here depends
// on static constructors the linker could drop.
#include "udm/targets/builtin.h"

#include "delay/delay.h"
#include "dust/dust.h"
#include "error/error.h"
#include "flakey/flakey.h"
#include "linear/linear.h"
#include "log_writes/log_writes.h"
#include "mirror/mirror.h"
#include "striped/striped.h"
#include "zero/zero.h"

namespace udm {

// A name already taken in `registry` keeps its earlier type.
void RegisterBuiltinTargets(TargetRegistry& registry) {
  (void)registry.Register(kDelayTarget);
  (void)registry.Register(kDustTarget);
  (void)registry.Register(kErrorTarget);
  (void)registry.Register(kFlakeyTarget);
  (void)registry.Register(kLinearTarget);
  (void)registry.Register(kLogWritesTarget);
  (void)registry.Register(kMirrorTarget);
  (void)registry.Register(kStripedTarget);
  (void)registry.Register(kZeroTarget);
}

const TargetRegistry& BuiltinTargets() {
  static const TargetRegistry registry = [] {
    TargetRegistry r;
    RegisterBuiltinTargets(r);
    return r;
  }();
  return registry;
}

}  // namespace udm
