// What a flakey table line asks for, and its parser/printer. Separate from
// the I/O path so that every argument error can be tested on its own.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "udm/error.h"

namespace udm {

inline constexpr uint32_t kFlakeyProbabilityBase = 1000000000;

struct FlakeyFeatures {
  bool error_reads = false;
  bool drop_writes = false;
  bool error_writes = false;
  uint32_t corrupt_byte = 0;  // 1-based byte of each matching request; 0: off
  bool corrupt_writes = false;  // corrupt_bio_byte direction: w (else r)
  uint8_t corrupt_value = 0;
  uint32_t corrupt_flags = 0;  // udm request flags (kPreflush, kFua, ...) that must all be set
  uint32_t random_read_corrupt = 0;   // out of kFlakeyProbabilityBase
  uint32_t random_write_corrupt = 0;  // out of kFlakeyProbabilityBase
};

// Parses "[<#features> <feature args>...]" (everything after <down>). With
// no features at all, reads and writes both fail while down, as documented
// for dm-flakey (error_reads and error_writes are then set).
Result<FlakeyFeatures> ParseFlakeyFeatures(std::span<const std::string> args);

// " <#features> <features...>" in the kernel's order, as dm-flakey prints
// its table line after "<dev> <off> <up> <down>".
std::string FlakeyFeaturesText(const FlakeyFeatures& f);

}  // namespace udm
