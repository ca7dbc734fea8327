// The dust target ("dust <dev> <off> <blksz>"): linear, but once enabled
// reads of blocks in its bad block list fail with EIO and a write to a bad
// block clears it, like the kernel's dm-dust. Driven by messages:
// addbadblock, removebadblock, queryblock, countbadblocks, clearbadblocks,
// listbadblocks, enable, disable, quiet.
#pragma once

#include "udm/target.h"

namespace udm {

extern const TargetType kDustTarget;

}  // namespace udm
