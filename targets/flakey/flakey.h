// The flakey target ("flakey <dev> <off> <up> <down> [<#features>
// <features>...]"): linear for <up> seconds, unreliable for <down> seconds,
// repeating from table load, like the kernel's dm-flakey. Features:
// error_reads, drop_writes, error_writes, corrupt_bio_byte <Nth> <r|w>
// <value> <flags>, random_read_corrupt <p>, random_write_corrupt <p>
// (p out of 1000000000).
#pragma once

#include "udm/target.h"

namespace udm {

extern const TargetType kFlakeyTarget;

}  // namespace udm
