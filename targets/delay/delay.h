// The delay target ("delay <dev> <off> <ms> [<wdev> <woff> <wms> [<fdev>
// <foff> <fms>]]"): holds reads, writes and flushes for a fixed time each
// before passing them on, possibly to different devices, like the kernel's
// dm-delay.
#pragma once

#include "udm/target.h"

namespace udm {

extern const TargetType kDelayTarget;

}  // namespace udm
