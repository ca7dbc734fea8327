// The linear target ("linear <dev> <offset>"): maps its range onto one
// contiguous range of a device, like the kernel's dm-linear.
#pragma once

#include "udm/target.h"

namespace udm {

extern const TargetType kLinearTarget;

}  // namespace udm
