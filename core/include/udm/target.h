// The target interface, modelled on the kernel's struct target_type: a
// target maps the requests that fall into its range of a table to devices.
// One Target object exists per table line; it lives as long as its table.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "udm/bio.h"
#include "udm/block_device.h"
#include "udm/error.h"

namespace udm {

// What Map() did with a request (DM_MAPIO_*).
enum class MapResult {
  kRemapped,   // bio->device and bio->sector set: the engine submits it
  kSubmitted,  // the target took it and will call EndClone() exactly once
  kRequeue,    // push the whole request back into the deferred queue
  kKill,       // fail the request with -EIO
};

// What EndIo() decided about a finished request (DM_ENDIO_*).
enum class EndIoResult {
  kDone,        // complete it with *status
  kIncomplete,  // the target keeps it and calls EndClone() again later
  kRequeue,     // push the whole request back into the deferred queue
};

enum class StatusType { kInfo, kTable };

// Opens the devices a table line names. Owned by whoever loads tables (the
// daemon, a test); must outlive every Table built with it.
class DeviceResolver {
 public:
  virtual ~DeviceResolver() = default;
  // `spec` is a path or udm:NAME as written in the table.
  virtual Result<std::shared_ptr<BlockDevice>> Open(std::string_view spec, bool writable) = 0;
};

// Everything a target's constructor may use.
struct TargetContext {
  uint64_t begin = 0;   // first sector of the target in the table
  uint64_t length = 0;  // sectors
  bool writable = true;
  DeviceResolver* resolver = nullptr;
  // Notifies the mapped device of a target-raised event (dm_table_event).
  std::function<void()> raise_event;

  // Opens `spec` and checks that `offset + length` sectors fit into it.
  Result<std::shared_ptr<BlockDevice>> GetDevice(std::string_view spec, uint64_t offset,
                                                 uint64_t len) const;
};

class Target {
 public:
  virtual ~Target() = default;

  // Decides where `bio` goes. `bio` is a clone that lies wholly inside this
  // target and inside one max_io_len() window; bio->sector is absolute in
  // the table (use begin() to make it relative).
  virtual MapResult Map(Bio* bio) = 0;
  // Sees a finished clone; may change *status.
  virtual EndIoResult EndIo(Bio* /*bio*/, int* /*status*/) { return EndIoResult::kDone; }

  virtual void PreSuspend() {}
  virtual void PostSuspend() {}
  virtual Status PreResume() { return {}; }
  virtual void Resume() {}

  // The status line (kInfo) or the table arguments (kTable), without the
  // leading "<start> <length> <type>".
  virtual std::string StatusLine(StatusType type) const = 0;
  // Handles `udmsetup message`; may write a reply into *reply.
  virtual Status Message(std::span<const std::string> args, std::string* /*reply*/) {
    (void)args;
    return Fail(ErrorCode::kUnsupported, EINVAL, "target does not take messages");
  }
  virtual void IterateDevices(const std::function<void(BlockDevice&)>& fn) const { (void)fn; }

  // Requests are split so that none crosses a multiple of max_io_len()
  // sectors (relative to begin()); 0 means no limit.
  virtual uint64_t max_io_len() const { return 0; }
  // How many empty flush clones the target gets per flush (one per device
  // it must flush); 0 means flushes skip it.
  virtual uint32_t num_flush_bios() const { return 0; }

  uint64_t begin() const { return begin_; }
  uint64_t length() const { return length_; }

 private:
  friend class Table;
  uint64_t begin_ = 0;
  uint64_t length_ = 0;
};

// Called by a target when it finishes a clone it took with kSubmitted or
// kept with kIncomplete. Defined by the engine.
void EndClone(Bio* clone, int status);

struct TargetVersion {
  unsigned major = 1, minor = 0, patch = 0;
};

// The one const description a target registers (like struct target_type).
struct TargetType {
  std::string_view name;
  TargetVersion version;
  // Builds a target from its table arguments. Errors name the bad field.
  Result<std::unique_ptr<Target>> (*create)(const TargetContext& ctx,
                                            std::span<const std::string> args);
};

}  // namespace udm
