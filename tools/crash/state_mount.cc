// StateMount: a VolumeDirectory of crash states served by the daemon's own
// FUSE layer; each state is a mapped device with one linear target over its
// overlay, so requests take the same path as on a real volume.
#include "state_mount.h"

#include <unistd.h>

#include "udm/mapped_device.h"
#include "udm/table.h"
#include "udm/targets/builtin.h"

namespace udm::crash {
namespace {

// Resolves the one name of a state's table to its overlay.
class OneDevice : public DeviceResolver {
 public:
  explicit OneDevice(std::shared_ptr<BlockDevice> dev) : dev_(std::move(dev)) {}
  Result<std::shared_ptr<BlockDevice>> Open(std::string_view spec, bool) override {
    if (spec != dev_->name()) return Fail(ErrorCode::kNotFound, ENOENT, "no device {}", spec);
    return dev_;
  }

 private:
  std::shared_ptr<BlockDevice> dev_;
};

}  // namespace

Result<std::unique_ptr<StateMount>> StateMount::Create(const std::string& parent) {
  std::string templ = parent + "/udm-crash.XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) return SysError(errno, "mkdtemp in " + parent);
  std::unique_ptr<StateMount> m(new StateMount);
  m->dir_ = templ;
  daemon::VolumeFsOptions opts;
  opts.threads = 4;
  auto fs = daemon::VolumeFs::Mount(m->dir_, *m, opts);
  if (!fs) {
    ::rmdir(m->dir_.c_str());
    return std::unexpected(fs.error().Prefixed("mount the crash-state directory"));
  }
  m->fs_ = std::move(*fs);
  return m;
}

StateMount::~StateMount() {
  if (fs_) fs_->Unmount();
  fs_.reset();
  ::rmdir(dir_.c_str());
}

Result<std::string> StateMount::Add(const std::string& name, std::shared_ptr<BlockDevice> dev) {
  auto md = std::make_shared<MappedDevice>(MappedDeviceOptions{name, false, BarrierMode::kFlush});
  OneDevice resolver(dev);
  const std::string table = fmt::format("0 {} linear {} 0", dev->sectors(), dev->name());
  auto t = Table::FromText(table, BuiltinTargets(), TableOptions{true, &resolver, {}});
  if (!t) return std::unexpected(t.error());
  if (auto st = md->Load(std::move(*t)); !st) return std::unexpected(st.error());
  if (auto st = md->Resume(); !st) return std::unexpected(st.error());
  {
    std::lock_guard<std::mutex> g(mu_);
    daemon::VolumeHandle h{next_ino_++, name, std::move(md), false};
    volumes_[name] = std::move(h);
  }
  fs_->NotifyListChanged();
  return dir_ + "/" + name;
}

void StateMount::Remove(const std::string& name) {
  {
    std::lock_guard<std::mutex> g(mu_);
    volumes_.erase(name);
  }
  fs_->NotifyListChanged();
}

std::vector<daemon::VolumeHandle> StateMount::List() const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<daemon::VolumeHandle> out;
  for (const auto& [_, h] : volumes_) out.push_back(h);
  return out;
}

std::optional<daemon::VolumeHandle> StateMount::FindByName(std::string_view name) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = volumes_.find(name);
  if (it == volumes_.end()) return std::nullopt;
  return it->second;
}

std::optional<daemon::VolumeHandle> StateMount::FindByIno(uint64_t ino) const {
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& [_, h] : volumes_) {
    if (h.ino == ino) return h;
  }
  return std::nullopt;
}

}  // namespace udm::crash
