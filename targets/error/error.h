// The error target ("error"): every read, write, discard and write-zeroes
// fails with -EIO, like the kernel's built-in error target.
#pragma once

#include "udm/target.h"

namespace udm {

extern const TargetType kErrorTarget;

}  // namespace udm
