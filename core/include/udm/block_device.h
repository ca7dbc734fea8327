// BlockDevice: anything a target can send requests to — a file or block
// device backend, an in-memory device, or another mapped device (stacking).
#pragma once

#include <cstdint>
#include <string>

#include "udm/bio.h"

namespace udm {

class BlockDevice {
 public:
  virtual ~BlockDevice() = default;

  // Starts `bio`. Never blocks and never waits for other I/O; the bio's
  // end_io runs exactly once, on any thread, possibly before Submit returns.
  // `bio` must stay valid until then.
  virtual void Submit(Bio* bio) = 0;

  // Size in 512-byte sectors.
  virtual uint64_t sectors() const = 0;

  // How the device is named in table lines (an absolute path or udm:NAME).
  virtual const std::string& name() const = 0;

  // A short human description of how I/O reaches the device, for status
  // ("direct", "buffered: O_DIRECT refused", "memory", ...).
  virtual std::string mode() const { return {}; }

  // Last I/O error seen, or 0. Lets status say what failed.
  virtual int last_error() const { return 0; }

  // Cache flushes sent to the device (fdatasync for files). A flush that
  // finds nothing written since the last successful cache flush started
  // completes without sending one.
  virtual uint64_t cache_flushes() const { return 0; }
};

}  // namespace udm
