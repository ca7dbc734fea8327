// The zero target ("zero"): reads return zeros, writes are dropped, like the
// kernel's dm-zero.
#pragma once

#include "udm/target.h"

namespace udm {

extern const TargetType kZeroTarget;

}  // namespace udm
