// StateMount: udm-crash's own FUSE directory, where each crash state being
// checked is a regular file backed by an OverlayDevice through a mapped
// device, exactly like a udmd volume, so checkers (e2fsck, losetup, mount)
// work on it while nothing is copied.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "fuse/volume_fs.h"
#include "udm/block_device.h"
#include "volumes/volume_directory.h"

namespace udm::crash {

class StateMount : public daemon::VolumeDirectory {
 public:
  // Mounts on a fresh directory under `parent`, removed again on
  // destruction.
  static Result<std::unique_ptr<StateMount>> Create(const std::string& parent);
  ~StateMount() override;

  // Exposes `dev` as <mountpoint>/<name>; returns that path.
  Result<std::string> Add(const std::string& name, std::shared_ptr<BlockDevice> dev);
  // Takes the file away; its device goes once nothing has it open.
  void Remove(const std::string& name);
  const std::string& mountpoint() const { return dir_; }

  // VolumeDirectory (called by the FUSE layer).
  std::vector<daemon::VolumeHandle> List() const override;
  std::optional<daemon::VolumeHandle> FindByName(std::string_view name) const override;
  std::optional<daemon::VolumeHandle> FindByIno(uint64_t ino) const override;
  void Opened(uint64_t) override {}
  void Released(uint64_t) override {}

 private:
  StateMount() = default;

  std::string dir_;
  std::unique_ptr<daemon::VolumeFs> fs_;
  mutable std::mutex mu_;  // a leaf lock
  std::map<std::string, daemon::VolumeHandle, std::less<>> volumes_;  // guarded by mu_
  uint64_t next_ino_ = 2;                                             // guarded by mu_
};

}  // namespace udm::crash
