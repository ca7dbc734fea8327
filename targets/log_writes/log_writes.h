// The log-writes target ("log-writes <dev> <log_dev>"): every write to <dev>
// is also logged to <log_dev> in dm-log-writes' on-disk format, in the
// order it became durable, so that crash states can be replayed.
#pragma once

#include "udm/target.h"

namespace udm {

extern const TargetType kLogWritesTarget;

}  // namespace udm
