// The mirror target ("mirror <log> <#log args> <log args> <#mirrors> <dev>
// <offset>... [<#features> handle_errors [keep_log]]"): RAID1 with a region
// log and background resync, like the kernel's dm-raid1.
#pragma once

#include "udm/target.h"

namespace udm {

extern const TargetType kMirrorTarget;

}  // namespace udm
