// VolumeManager: the daemon's volumes. It builds their tables (opening
// files and block devices, stacking udm:NAME in-process), drives suspend,
// load and resume, records every change in the state store before the
// command returns, and restores everything on start.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "state/state_store.h"
#include "udm/file_backend.h"
#include "udm/mapped_device.h"
#include "udm/target_registry.h"
#include "volumes/volume_directory.h"

namespace udm::daemon {

struct CreateParams {
  std::string name;
  std::string uuid;                  // empty: none
  std::optional<std::string> table;  // nullopt: create without a table
  bool read_only = false;
  BarrierMode barriers = BarrierMode::kFlush;
};

struct VolumeInfo {
  std::string name, uuid, path;
  SuspendState state = SuspendState::kActive;
  bool read_only = false;
  BarrierMode barriers = BarrierMode::kFlush;
  bool live_table = false, inactive_table = false;
  int open_count = 0;
  uint64_t event_nr = 0;
  size_t num_targets = 0;
  uint64_t sectors = 0;
  uint64_t errors = 0;         // requests that failed since the daemon started
  std::string last_error;      // the last failure, naming device, sector and errno text
  std::string restore_error;  // why the stored live table could not be loaded at start
};

// Told about changes the FUSE layer must show at once. Called with no
// manager lock held.
class VolumeObserver {
 public:
  virtual ~VolumeObserver() = default;
  virtual void VolumeChanged(uint64_t ino) = 0;            // size or attributes
  virtual void VolumeListChanged(const std::string& removed_or_old_name) = 0;
  // Returns once the changes reported so far are visible (bounded wait).
  virtual void Settle() {}
};

class VolumeManager : public VolumeDirectory {
 public:
  // `store`, `registry` must outlive the manager. `mount_dir` is where the
  // volume files appear (for paths in Info and for tables naming them).
  VolumeManager(StateStore& store, const TargetRegistry& registry,
                std::shared_ptr<UringWorker> worker, std::string mount_dir);
  ~VolumeManager() override;

  void SetObserver(VolumeObserver* observer);  // before serving
  // Returns once the changes made so far are visible through the observer
  // (volume files show their new size and names). Call with no lock held.
  void SettleChanges();

  // Brings back every stored volume: live tables loaded and active,
  // inactive tables loaded. A volume whose table cannot be built comes back
  // without it, with the reason in Info().restore_error and an event; the
  // stored table is kept. Returns the number of volumes restored.
  Result<size_t> Restore();

  Result<VolumeInfo> Create(const CreateParams& params);
  Result<VolumeInfo> Load(const std::string& name, const std::string& table);
  Result<VolumeInfo> Clear(const std::string& name);
  Result<VolumeInfo> Suspend(const std::string& name, bool noflush);
  Result<VolumeInfo> Resume(const std::string& name);
  Status Remove(const std::string& name, bool force);
  Result<VolumeInfo> Rename(const std::string& name, const std::string& new_name);
  Result<std::string> Message(const std::string& name, uint64_t sector,
                              const std::vector<std::string>& args);

  Result<VolumeInfo> Info(const std::string& name) const;
  std::vector<VolumeInfo> InfoAll() const;
  // Table (kTable) or status (kInfo) lines of the live or inactive table,
  // optionally only targets of type `target`.
  Result<std::vector<std::string>> Lines(const std::string& name, bool inactive, StatusType type,
                                         const std::string& target) const;
  Result<std::vector<std::string>> Deps(const std::string& name) const;
  Result<StatsSnapshot> Stats(const std::string& name) const;
  Result<std::vector<EventRecord>> Events(const std::string& name, size_t limit) const;
  // Blocks until the volume's event number exceeds `after`, or fails with
  // kBusy once `cancelled()` turns true or the manager shuts down.
  Result<VolumeInfo> Wait(const std::string& name, uint64_t after,
                          const std::function<bool()>& cancelled);

  // Suspends (flushing) every volume, top of the stack first. For shutdown.
  void FlushAll();

  // VolumeDirectory.
  std::vector<VolumeHandle> List() const override;
  std::optional<VolumeHandle> FindByName(std::string_view name) const override;
  std::optional<VolumeHandle> FindByIno(uint64_t ino) const override;
  void Opened(uint64_t ino) override;
  void Released(uint64_t ino) override;

 private:
  struct Volume;
  class Resolver;

  std::shared_ptr<Volume> Find(const std::string& name) const;
  Result<std::shared_ptr<Volume>> Get(const std::string& name) const;
  Result<std::unique_ptr<Table>> BuildTable(const Volume& vol, const std::string& text,
                                            std::vector<std::string>* deps);
  Status CheckNoCycle(const std::string& name, const std::vector<std::string>& deps) const;
  std::vector<std::string> Holders(const std::string& name) const;
  VolumeInfo InfoOf(const Volume& vol) const;
  Status ResumeLocked(Volume& vol);
  void Event(const std::string& volume, const std::string& kind, const std::string& detail);
  void NotifyChanged(uint64_t ino);
  void NotifyList(const std::string& name);
  Status RestoreTables(Volume& vol, const VolumeRecord& rec);
  void Retire(std::shared_ptr<MappedDevice> device);
  void ReapRetired();

  StateStore& store_;
  const TargetRegistry& registry_;
  const std::shared_ptr<UringWorker> worker_;
  const std::string mount_dir_;
  VolumeObserver* observer_ = nullptr;
  std::atomic<bool> stopping_{false};

  // Lock order: topology_mu_ (create/remove/rename/load: who stacks on
  // whom), then a volume's op_mu, then mu_ (the name map, held briefly).
  mutable std::mutex topology_mu_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Volume>, std::less<>> volumes_;  // guarded by mu_
  uint64_t next_ino_ = 2;                                                // guarded by mu_
  std::vector<std::shared_ptr<MappedDevice>> retired_;  // guarded by mu_; removed, maybe still in use
};

}  // namespace udm::daemon
