// The striped target ("striped <#stripes> <chunk size> [<dev> <offset>]..."):
// RAID-0 across devices in chunks, like the kernel's dm-stripe.
#pragma once

#include "udm/target.h"

namespace udm {

extern const TargetType kStripedTarget;

}  // namespace udm
