// VolumeManager: volumes, their tables, stacking and persistence.
#include "volumes/volume_manager.h"

#include <cstdio>
#include <set>
#include <sstream>

#include "control/protocol.h"
#include "udm/check.h"

namespace udm::daemon {

struct VolumeManager::Volume {
  uint64_t ino = 0;
  std::string name;  // guarded by the manager's mu_ (changes on rename)
  std::string uuid;
  bool read_only = false;
  BarrierMode barriers = BarrierMode::kFlush;
  std::shared_ptr<MappedDevice> device;
  std::atomic<int> open_count{0};

  std::mutex op_mu;  // serializes control operations on this volume
  std::string restore_error;  // guarded by op_mu
  // Volumes the live and inactive tables stack on; guarded by the manager's mu_.
  std::vector<std::string> live_deps, inactive_deps;
};

namespace {

// A volume as a device in another volume's table: named udm:NAME.
class StackedDevice : public BlockDevice {
 public:
  StackedDevice(std::shared_ptr<MappedDevice> device, std::string name)
      : device_(std::move(device)), name_(std::move(name)) {}
  void Submit(Bio* bio) override { device_->Submit(bio); }
  uint64_t sectors() const override { return device_->sectors(); }
  const std::string& name() const override { return name_; }
  std::string mode() const override { return "stacked"; }

 private:
  const std::shared_ptr<MappedDevice> device_;
  const std::string name_;
};

std::unexpected<Error> NotFound(std::string_view name) {
  return Fail(ErrorCode::kNotFound, ENOENT, "volume '{}' not found", name);
}

// The udm:NAME volumes a stored table names.
std::vector<std::string> StackedNames(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    if (word.rfind("udm:", 0) == 0) out.push_back(word.substr(4));
  }
  return out;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace

// Opens the devices of one table: files and block devices through io_uring,
// other volumes in-process.
class VolumeManager::Resolver : public DeviceResolver {
 public:
  Resolver(const VolumeManager& manager, std::string self)
      : manager_(manager), self_(std::move(self)) {}

  Result<std::shared_ptr<BlockDevice>> Open(std::string_view spec, bool writable) override {
    std::string volume;
    const std::string prefix = manager_.mount_dir_ + "/";
    if (spec.rfind("udm:", 0) == 0) {
      volume = spec.substr(4);
    } else if (spec.rfind(prefix, 0) == 0 && spec.find('/', prefix.size()) == std::string::npos) {
      volume = spec.substr(prefix.size());
    }
    if (!volume.empty()) return OpenVolume(volume);
    if (spec.empty() || spec.front() != '/') {
      return InvalidArgument("device '{}': not an absolute path or udm:NAME", spec);
    }
    FileBackendOptions opts;
    opts.writable = writable;
    return OpenFileBackend(std::string(spec), manager_.worker_, opts);
  }

  std::vector<std::string> deps;

 private:
  Result<std::shared_ptr<BlockDevice>> OpenVolume(const std::string& volume) {
    if (volume == self_) return InvalidArgument("device udm:{}: a volume cannot stack on itself", volume);
    auto vol = manager_.Find(volume);
    if (vol == nullptr) return Fail(ErrorCode::kNotFound, ENOENT, "device udm:{}: volume not found", volume);
    deps.push_back(volume);
    return std::make_shared<StackedDevice>(vol->device, "udm:" + volume);
  }

  const VolumeManager& manager_;
  const std::string self_;
};

VolumeManager::VolumeManager(StateStore& store, const TargetRegistry& registry,
                             std::shared_ptr<UringWorker> worker, std::string mount_dir)
    : store_(store), registry_(registry), worker_(std::move(worker)), mount_dir_(std::move(mount_dir)) {}

VolumeManager::~VolumeManager() { stopping_ = true; }

void VolumeManager::SetObserver(VolumeObserver* observer) { observer_ = observer; }

void VolumeManager::SettleChanges() {
  if (observer_ != nullptr) observer_->Settle();
}

std::shared_ptr<VolumeManager::Volume> VolumeManager::Find(const std::string& name) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = volumes_.find(name);
  return it == volumes_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<VolumeManager::Volume>> VolumeManager::Get(const std::string& name) const {
  if (auto st = ValidateVolumeName(name); !st) return std::unexpected(st.error());
  auto vol = Find(name);
  if (vol == nullptr) return NotFound(name);
  return vol;
}

Result<std::unique_ptr<Table>> VolumeManager::BuildTable(const Volume& vol, const std::string& text,
                                                         std::vector<std::string>* deps) {
  std::string self;
  {
    std::lock_guard<std::mutex> g(mu_);
    self = vol.name;
  }
  Resolver resolver(*this, self);
  TableOptions opts;
  opts.writable = !vol.read_only;
  opts.resolver = &resolver;
  std::weak_ptr<MappedDevice> weak = vol.device;
  opts.raise_event = [weak] {
    if (auto d = weak.lock()) d->RaiseEvent();
  };
  auto table = Table::FromText(text, registry_, opts);
  if (!table) return std::unexpected(table.error());
  if (auto st = CheckNoCycle(self, resolver.deps); !st) return std::unexpected(st.error());
  *deps = std::move(resolver.deps);
  return table;
}

// Refuses a table for `name` that stacks on a volume that (transitively)
// stacks on `name`.
Status VolumeManager::CheckNoCycle(const std::string& name, const std::vector<std::string>& deps) const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<std::string> todo = deps;
  std::set<std::string> seen;
  while (!todo.empty()) {
    std::string cur = todo.back();
    todo.pop_back();
    if (cur == name) return InvalidArgument("table: stacking on these volumes would make a cycle back to '{}'", name);
    if (!seen.insert(cur).second) continue;
    auto it = volumes_.find(cur);
    if (it == volumes_.end()) continue;
    for (const auto& d : it->second->live_deps) todo.push_back(d);
    for (const auto& d : it->second->inactive_deps) todo.push_back(d);
  }
  return {};
}

std::vector<std::string> VolumeManager::Holders(const std::string& name) const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<std::string> out;
  for (const auto& [other, vol] : volumes_) {
    bool uses = false;
    for (const auto& d : vol->live_deps) uses |= d == name;
    for (const auto& d : vol->inactive_deps) uses |= d == name;
    if (uses) out.push_back(other);
  }
  return out;
}

VolumeInfo VolumeManager::InfoOf(const Volume& vol) const {
  VolumeInfo i;
  {
    std::lock_guard<std::mutex> g(mu_);
    i.name = vol.name;
  }
  i.uuid = vol.uuid;
  i.path = mount_dir_ + "/" + i.name;
  i.state = vol.device->suspend_state();
  i.read_only = vol.read_only;
  i.barriers = vol.barriers;
  i.live_table = vol.device->has_live();
  i.inactive_table = vol.device->has_inactive();
  i.open_count = vol.open_count.load();
  i.event_nr = vol.device->event_nr();
  i.num_targets = vol.device->num_targets();
  i.sectors = vol.device->sectors();
  StatsSnapshot stats = vol.device->Stats();
  i.errors = stats.errors;
  i.last_error = std::move(stats.last_error);
  return i;
}

void VolumeManager::Event(const std::string& volume, const std::string& kind, const std::string& detail) {
  if (auto st = store_.AddEvent(volume, kind, detail); !st) {
    std::fprintf(stderr, "udmd: recording event %s of %s: %s\n", kind.c_str(), volume.c_str(),
                 st.error().message.c_str());
  }
}

void VolumeManager::NotifyChanged(uint64_t ino) {
  if (observer_ != nullptr) observer_->VolumeChanged(ino);
}

void VolumeManager::NotifyList(const std::string& name) {
  if (observer_ != nullptr) observer_->VolumeListChanged(name);
}

// --- Commands -----------------------------------------------------------------

Result<VolumeInfo> VolumeManager::Create(const CreateParams& p) {
  ReapRetired();
  if (auto st = ValidateVolumeName(p.name); !st) return std::unexpected(st.error());
  std::lock_guard<std::mutex> topo(topology_mu_);
  {
    std::lock_guard<std::mutex> g(mu_);
    if (volumes_.count(p.name)) {
      return Fail(ErrorCode::kAlreadyExists, EEXIST, "volume '{}' already exists", p.name);
    }
    for (const auto& [n, v] : volumes_) {
      if (!p.uuid.empty() && v->uuid == p.uuid) {
        return Fail(ErrorCode::kAlreadyExists, EEXIST, "uuid '{}' is already used by volume '{}'", p.uuid, n);
      }
    }
  }
  auto vol = std::make_shared<Volume>();
  vol->name = p.name;
  vol->uuid = p.uuid;
  vol->read_only = p.read_only;
  vol->barriers = p.barriers;
  vol->device = std::make_shared<MappedDevice>(MappedDeviceOptions{p.name, p.read_only, p.barriers});
  VolumeRecord rec;
  rec.name = p.name;
  rec.uuid = p.uuid;
  rec.read_only = p.read_only;
  rec.barrier_mode = std::string(BarrierModeName(p.barriers));
  if (p.table) {
    std::vector<std::string> deps;
    auto table = BuildTable(*vol, *p.table, &deps);
    if (!table) return std::unexpected(table.error());
    rec.live_table = (*table)->Text(StatusType::kTable);
    if (auto st = vol->device->Load(std::move(*table)); !st) return std::unexpected(st.error());
    if (auto st = vol->device->Resume(); !st) return std::unexpected(st.error());
    vol->live_deps = std::move(deps);
  }
  if (auto st = store_.CreateVolume(rec); !st) return std::unexpected(st.error());
  {
    std::lock_guard<std::mutex> g(mu_);
    vol->ino = next_ino_++;
    volumes_[p.name] = vol;
  }
  NotifyList("");
  return InfoOf(*vol);
}

Result<VolumeInfo> VolumeManager::Load(const std::string& name, const std::string& text) {
  std::lock_guard<std::mutex> topo(topology_mu_);
  auto vol = Get(name);
  if (!vol) return std::unexpected(vol.error());
  std::lock_guard<std::mutex> op((*vol)->op_mu);
  std::vector<std::string> deps;
  auto table = BuildTable(**vol, text, &deps);
  if (!table) return std::unexpected(table.error());
  const std::string canonical = (*table)->Text(StatusType::kTable);
  if (auto st = store_.SetInactiveTable(name, canonical); !st) return std::unexpected(st.error());
  if (auto st = (*vol)->device->Load(std::move(*table)); !st) {
    auto old = (*vol)->device->TableText(true, StatusType::kTable);
    (void)store_.SetInactiveTable(name, old);
    return std::unexpected(st.error());
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    (*vol)->inactive_deps = std::move(deps);
  }
  return InfoOf(**vol);  // the store recorded the load
}

Result<VolumeInfo> VolumeManager::Clear(const std::string& name) {
  auto vol = Get(name);
  if (!vol) return std::unexpected(vol.error());
  std::lock_guard<std::mutex> op((*vol)->op_mu);
  if (auto st = store_.SetInactiveTable(name, std::nullopt); !st) return std::unexpected(st.error());
  (*vol)->device->ClearInactive();
  {
    std::lock_guard<std::mutex> g(mu_);
    (*vol)->inactive_deps.clear();
  }
  return InfoOf(**vol);  // the store recorded the clear
}

Result<VolumeInfo> VolumeManager::Suspend(const std::string& name, bool noflush) {
  auto vol = Get(name);
  if (!vol) return std::unexpected(vol.error());
  std::lock_guard<std::mutex> op((*vol)->op_mu);
  if (auto st = (*vol)->device->Suspend(noflush); !st) return std::unexpected(st.error());
  Event(name, "suspend", noflush ? "noflush" : "");
  return InfoOf(**vol);
}

Result<VolumeInfo> VolumeManager::Resume(const std::string& name) {
  auto vol = Get(name);
  if (!vol) return std::unexpected(vol.error());
  std::lock_guard<std::mutex> op((*vol)->op_mu);
  if (auto st = ResumeLocked(**vol); !st) return std::unexpected(st.error());
  return InfoOf(**vol);
}

// With an inactive table: suspend, commit the swap to the store, then
// resume, so no request reaches the new table before the swap is durable.
Status VolumeManager::ResumeLocked(Volume& vol) {
  std::string name;
  {
    std::lock_guard<std::mutex> g(mu_);
    name = vol.name;
  }
  MappedDevice& dev = *vol.device;
  if (!dev.has_inactive()) {
    if (auto st = dev.Resume(); !st) return st;
    Event(name, "resume", "");
    return {};
  }
  const bool was_active = dev.suspend_state() == SuspendState::kActive;
  if (was_active) {
    if (auto st = dev.Suspend(false); !st) return st;
  }
  // On failure the volume goes back to how it was: active on the old table.
  auto undo_suspend = [&] {
    if (was_active) (void)dev.ResumeKeepingLive();
  };
  const auto old_live = dev.TableText(false, StatusType::kTable);
  const auto new_live = dev.TableText(true, StatusType::kTable);
  if (auto st = store_.SwapTables(name); !st) {
    undo_suspend();
    return st;
  }
  if (auto st = dev.Resume(); !st) {
    auto undone = store_.Transaction([&]() -> Status {
      if (auto r = store_.SetLiveTable(name, old_live); !r) return r;
      return store_.SetInactiveTable(name, new_live);
    });
    if (!undone) {
      std::fprintf(stderr, "udmd: %s: undoing the table swap in the store failed: %s\n",
                   name.c_str(), undone.error().message.c_str());
    }
    undo_suspend();
    return st;
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    vol.live_deps = std::move(vol.inactive_deps);
    vol.inactive_deps.clear();
  }
  vol.restore_error.clear();
  Event(name, "resume", "table swapped");
  NotifyChanged(vol.ino);
  return {};
}

Status VolumeManager::Remove(const std::string& name, bool force) {
  ReapRetired();
  std::lock_guard<std::mutex> topo(topology_mu_);
  auto vol = Get(name);
  if (!vol) return std::unexpected(vol.error());
  if (auto holders = Holders(name); !holders.empty()) {
    return Fail(ErrorCode::kBusy, EBUSY, "volume '{}' is used by volume '{}'", name, holders.front());
  }
  const int open = (*vol)->open_count.load();
  if (open > 0 && !force) {
    return Fail(ErrorCode::kBusy, EBUSY, "volume '{}' is open ({} open file{}); use --force", name, open,
                open == 1 ? "" : "s");
  }
  std::lock_guard<std::mutex> op((*vol)->op_mu);
  if (auto st = store_.RemoveVolume(name); !st) return st;
  {
    std::lock_guard<std::mutex> g(mu_);
    volumes_.erase(name);
  }
  MappedDevice& dev = *(*vol)->device;
  if (force && dev.sectors() > 0) {
    // Like dmsetup remove --force: whoever still has the file open gets
    // EIO from now on, queued I/O included, instead of hanging.
    TableOptions opts;
    opts.writable = !(*vol)->read_only;  // a read-only device refuses a writable table
    auto error_table = Table::FromText(fmt::format("0 {} error", dev.sectors()), registry_, opts);
    UDM_CHECK(error_table.has_value());
    if (Status loaded = dev.Load(std::move(*error_table)); loaded) {
      if (dev.suspend_state() == SuspendState::kActive) (void)dev.Suspend(true);
      (void)dev.FailDeferred();
      (void)dev.Resume();
    } else {
      std::fprintf(stderr, "udmd: %s: remove --force: loading the error table failed: %s\n",
                   name.c_str(), loaded.error().message.c_str());
    }
  }
  Retire((*vol)->device);
  NotifyList(name);
  return {};
}

Result<VolumeInfo> VolumeManager::Rename(const std::string& name, const std::string& new_name) {
  if (auto st = ValidateVolumeName(new_name); !st) return std::unexpected(st.error());
  std::lock_guard<std::mutex> topo(topology_mu_);
  auto vol = Get(name);
  if (!vol) return std::unexpected(vol.error());
  if (Find(new_name) != nullptr) {
    return Fail(ErrorCode::kAlreadyExists, EEXIST, "volume '{}' already exists", new_name);
  }
  if (auto holders = Holders(name); !holders.empty()) {
    return Fail(ErrorCode::kBusy, EBUSY, "volume '{}' is used by volume '{}' (as udm:{}); rename refused",
                name, holders.front(), name);
  }
  std::lock_guard<std::mutex> op((*vol)->op_mu);
  if (auto st = store_.RenameVolume(name, new_name); !st) return std::unexpected(st.error());
  {
    std::lock_guard<std::mutex> g(mu_);
    volumes_.erase(name);
    (*vol)->name = new_name;
    volumes_[new_name] = *vol;
  }
  NotifyList(name);
  return InfoOf(**vol);
}

Result<std::string> VolumeManager::Message(const std::string& name, uint64_t sector,
                                           const std::vector<std::string>& args) {
  auto vol = Get(name);
  if (!vol) return std::unexpected(vol.error());
  std::lock_guard<std::mutex> op((*vol)->op_mu);
  return (*vol)->device->Message(sector, args);
}

// --- Queries --------------------------------------------------------------------

Result<VolumeInfo> VolumeManager::Info(const std::string& name) const {
  auto vol = Get(name);
  if (!vol) return std::unexpected(vol.error());
  VolumeInfo i = InfoOf(**vol);
  std::lock_guard<std::mutex> op((*vol)->op_mu);
  i.restore_error = (*vol)->restore_error;
  return i;
}

std::vector<VolumeInfo> VolumeManager::InfoAll() const {
  std::vector<std::shared_ptr<Volume>> vols;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& [n, v] : volumes_) vols.push_back(v);
  }
  std::vector<VolumeInfo> out;
  for (const auto& v : vols) out.push_back(InfoOf(*v));
  return out;
}

Result<std::vector<std::string>> VolumeManager::Lines(const std::string& name, bool inactive,
                                                      StatusType type, const std::string& target) const {
  auto vol = Get(name);
  if (!vol) return std::unexpected(vol.error());
  auto text = (*vol)->device->TableText(inactive, type);
  std::vector<std::string> out;
  if (!text) return out;
  for (auto& line : SplitLines(*text)) {
    std::istringstream in(line);
    std::string start, length, type_name;
    in >> start >> length >> type_name;
    if (target.empty() || type_name == target) out.push_back(line);
  }
  return out;
}

Result<std::vector<std::string>> VolumeManager::Deps(const std::string& name) const {
  auto vol = Get(name);
  if (!vol) return std::unexpected(vol.error());
  return (*vol)->device->LiveDeviceNames();
}

Result<StatsSnapshot> VolumeManager::Stats(const std::string& name) const {
  auto vol = Get(name);
  if (!vol) return std::unexpected(vol.error());
  return (*vol)->device->Stats();
}

Result<std::vector<EventRecord>> VolumeManager::Events(const std::string& name, size_t limit) const {
  if (auto st = ValidateVolumeName(name); !st) return std::unexpected(st.error());
  return store_.Events(name, limit);
}

Result<VolumeInfo> VolumeManager::Wait(const std::string& name, uint64_t after,
                                       const std::function<bool()>& cancelled) {
  auto vol = Get(name);
  if (!vol) return std::unexpected(vol.error());
  for (;;) {
    if ((*vol)->device->WaitEvent(after, 100) > after) return InfoOf(**vol);
    if (stopping_ || cancelled()) return Fail(ErrorCode::kBusy, ECANCELED, "wait for {} cancelled", name);
    if (Find(name) != *vol) return NotFound(name);
  }
}

void VolumeManager::FlushAll() {
  stopping_ = true;
  std::vector<std::shared_ptr<Volume>> vols;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& [n, v] : volumes_) vols.push_back(v);
  }
  // Top of the stack first: a volume only once every volume stacked on it
  // is suspended, so no upper flush waits in a suspended lower queue.
  std::set<std::string> done;
  while (done.size() < vols.size()) {
    bool progress = false;
    for (const auto& v : vols) {
      std::string name;
      {
        std::lock_guard<std::mutex> g(mu_);
        name = v->name;
      }
      if (done.count(name)) continue;
      bool held = false;
      for (const auto& h : Holders(name)) held |= !done.count(h);
      if (held) continue;
      std::lock_guard<std::mutex> op(v->op_mu);
      if (v->device->suspend_state() == SuspendState::kActive) (void)v->device->Suspend(false);
      done.insert(name);
      progress = true;
    }
    if (!progress) break;  // a cycle in stored data: leave the rest to their destructors
  }
  ReapRetired();
}

// Keeps a removed volume's device until no request holds it any more, so
// that its destructor (which drains and joins its worker) never runs on an
// I/O completion thread that dropped the last reference.
void VolumeManager::Retire(std::shared_ptr<MappedDevice> device) {
  std::lock_guard<std::mutex> g(mu_);
  retired_.push_back(std::move(device));
}

void VolumeManager::ReapRetired() {
  std::vector<std::shared_ptr<MappedDevice>> dead;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (auto it = retired_.begin(); it != retired_.end();) {
      if (it->use_count() == 1) {
        dead.push_back(std::move(*it));
        it = retired_.erase(it);
      } else {
        ++it;
      }
    }
  }
  dead.clear();  // destroyed here, on a control thread
}

// --- Restore --------------------------------------------------------------------

Result<size_t> VolumeManager::Restore() {
  auto records = store_.LoadVolumes();
  if (!records) return std::unexpected(records.error());
  std::lock_guard<std::mutex> topo(topology_mu_);
  std::vector<std::pair<std::shared_ptr<Volume>, VolumeRecord>> pending;
  for (auto& rec : *records) {
    auto vol = std::make_shared<Volume>();
    vol->name = rec.name;
    vol->uuid = rec.uuid;
    vol->read_only = rec.read_only;
    vol->barriers = ParseBarrierMode(rec.barrier_mode).value_or(BarrierMode::kFlush);
    vol->device = std::make_shared<MappedDevice>(MappedDeviceOptions{rec.name, rec.read_only, vol->barriers});
    {
      std::lock_guard<std::mutex> g(mu_);
      vol->ino = next_ino_++;
      volumes_[rec.name] = vol;
    }
    pending.emplace_back(vol, rec);
  }
  // Lower volumes first: a table is restored once every udm:NAME it names is.
  std::set<std::string> restored;
  while (!pending.empty()) {
    auto ready = pending.begin();
    for (; ready != pending.end(); ++ready) {
      bool deps_ready = true;
      for (const auto& t : {ready->second.live_table, ready->second.inactive_table}) {
        if (!t) continue;
        for (const auto& d : StackedNames(*t)) deps_ready &= restored.count(d) > 0 || Find(d) == nullptr;
      }
      if (deps_ready) break;
    }
    if (ready == pending.end()) ready = pending.begin();  // a cycle in stored data: try anyway
    (void)RestoreTables(*ready->first, ready->second);
    restored.insert(ready->second.name);
    pending.erase(ready);
  }
  NotifyList("");
  return records->size();
}

Status VolumeManager::RestoreTables(Volume& vol, const VolumeRecord& rec) {
  std::lock_guard<std::mutex> op(vol.op_mu);
  auto fail = [&](const char* which, const Error& e) {
    vol.restore_error += fmt::format("{}{} table: {}", vol.restore_error.empty() ? "" : "; ", which, e.message);
    Event(rec.name, "restore-error", fmt::format("{} table: {}", which, e.message));
  };
  if (rec.live_table) {
    std::vector<std::string> deps;
    auto table = BuildTable(vol, *rec.live_table, &deps);
    if (!table) {
      fail("live", table.error());
    } else if (auto st = vol.device->Load(std::move(*table)); !st) {
      fail("live", st.error());
    } else if (auto r = vol.device->Resume(); !r) {
      fail("live", r.error());
      vol.device->ClearInactive();  // the store has no inactive table: neither do we
      (void)vol.device->Resume();   // no live table: I/O fails with EIO, never hangs
    } else {
      std::lock_guard<std::mutex> g(mu_);
      vol.live_deps = std::move(deps);
    }
  }
  if (rec.inactive_table) {
    std::vector<std::string> deps;
    auto table = BuildTable(vol, *rec.inactive_table, &deps);
    if (!table) {
      fail("inactive", table.error());
    } else if (auto st = vol.device->Load(std::move(*table)); !st) {
      fail("inactive", st.error());
    } else {
      std::lock_guard<std::mutex> g(mu_);
      vol.inactive_deps = std::move(deps);
    }
  }
  return {};
}

// --- VolumeDirectory --------------------------------------------------------------

std::vector<VolumeHandle> VolumeManager::List() const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<VolumeHandle> out;
  for (const auto& [n, v] : volumes_) out.push_back(VolumeHandle{v->ino, n, v->device, v->read_only});
  return out;
}

std::optional<VolumeHandle> VolumeManager::FindByName(std::string_view name) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = volumes_.find(name);
  if (it == volumes_.end()) return std::nullopt;
  const auto& v = it->second;
  return VolumeHandle{v->ino, v->name, v->device, v->read_only};
}

std::optional<VolumeHandle> VolumeManager::FindByIno(uint64_t ino) const {
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& [n, v] : volumes_) {
    if (v->ino == ino) return VolumeHandle{v->ino, n, v->device, v->read_only};
  }
  return std::nullopt;
}

void VolumeManager::Opened(uint64_t ino) {
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& [n, v] : volumes_) {
    if (v->ino == ino) ++v->open_count;
  }
}

void VolumeManager::Released(uint64_t ino) {
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& [n, v] : volumes_) {
    if (v->ino == ino && v->open_count > 0) --v->open_count;
  }
}

}  // namespace udm::daemon
