// VolumeDirectory: the daemon's volumes as the FUSE layer sees them. The
// volume manager implements it; the FUSE layer only reads it and reports
// opens and releases.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "udm/mapped_device.h"

namespace udm::daemon {

struct VolumeHandle {
  uint64_t ino = 0;  // stable for the volume's life, also across renames; never 1
  std::string name;
  std::shared_ptr<MappedDevice> device;  // size: device->sectors() * 512
  bool read_only = false;
};

class VolumeDirectory {
 public:
  virtual ~VolumeDirectory() = default;
  // Thread-safe; cheap enough to call per lookup/readdir.
  virtual std::vector<VolumeHandle> List() const = 0;
  virtual std::optional<VolumeHandle> FindByName(std::string_view name) const = 0;
  virtual std::optional<VolumeHandle> FindByIno(uint64_t ino) const = 0;
  // Called on every successful open and on every release of a volume file.
  virtual void Opened(uint64_t ino) = 0;
  virtual void Released(uint64_t ino) = 0;
};

}  // namespace udm::daemon
