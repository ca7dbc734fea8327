// Invalidator: batches queued notifications and sends them with
// fuse_lowlevel_notify_inval_inode / _inval_entry.
#include "fuse/invalidator.h"

#include <cerrno>
#include <cstring>
#include <map>

#include <fmt/core.h>

#include "fuse/fs_state.h"

namespace udm::daemon::volfs {
namespace {

constexpr fuse_ino_t kRootIno = FUSE_ROOT_ID;

// ENOENT: the kernel had nothing cached; ENOTCONN: not initialized or gone.
void Report(int rc, const char* what) {
  if (rc != 0 && rc != -ENOENT && rc != -ENOTCONN) {
    fmt::print(stderr, "udmd: fuse: {} failed: {}\n", what, std::strerror(-rc));
  }
}

}  // namespace

Invalidator::Invalidator(FsState& fs) : fs_(fs), thread_([this] { Run(); }) {}

void Invalidator::Inode(uint64_t ino, std::string old_name) {
  std::lock_guard<std::mutex> g(mu_);
  inodes_.push_back(ino);
  ++queued_;
  if (!old_name.empty()) {
    names_.push_back(std::move(old_name));
    list_ = true;  // a rename may also have replaced another volume's entry
  }
  cv_.notify_one();
}

void Invalidator::List() {
  std::lock_guard<std::mutex> g(mu_);
  list_ = true;
  ++queued_;
  cv_.notify_one();
}

bool Invalidator::Settle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  const uint64_t target = queued_;
  // Stopping: the last batch goes out on its own; nobody waits for it.
  return sent_cv_.wait_for(l, timeout, [&] { return stop_ || sent_ >= target; });
}

void Invalidator::Stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void Invalidator::Run() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || list_ || !inodes_.empty() || !names_.empty(); });
    std::vector<uint64_t> inodes = std::exchange(inodes_, {});
    std::vector<std::string> names = std::exchange(names_, {});
    const bool list = std::exchange(list_, false);
    const uint64_t batch_end = queued_;
    if (inodes.empty() && names.empty() && !list) {  // stopping, nothing left
      sent_ = batch_end;
      sent_cv_.notify_all();
      return;
    }
    l.unlock();
    fuse_session* se = fs_.session->se;
    // Attributes only (offset -1): dropping pages could wait for a read
    // held up by a suspended device. A size change drops them anyway.
    for (uint64_t ino : inodes) {
      Report(fuse_lowlevel_notify_inval_inode(se, ino, -1, 0), "inval_inode");
    }
    for (const std::string& name : names) DropEntry(name);
    if (list) DropStaleEntries();
    l.lock();
    sent_ = batch_end;
    sent_cv_.notify_all();
  }
}

void Invalidator::DropEntry(const std::string& name) {
  {
    std::lock_guard<std::mutex> g(fs_.mu);
    fs_.known_names.erase(name);
  }
  Report(fuse_lowlevel_notify_inval_entry(fs_.session->se, kRootIno, name.c_str(), name.size()),
         "inval_entry");
}

void Invalidator::DropStaleEntries() {
  std::map<std::string, uint64_t, std::less<>> live;
  for (VolumeHandle& v : fs_.dir.List()) live.emplace(std::move(v.name), v.ino);
  std::vector<std::string> stale;
  {
    std::lock_guard<std::mutex> g(fs_.mu);
    for (auto it = fs_.known_names.begin(); it != fs_.known_names.end();) {
      auto l = live.find(it->first);
      if (l != live.end() && l->second == it->second) {
        ++it;
        continue;
      }
      stale.push_back(it->first);
      it = fs_.known_names.erase(it);
    }
  }
  for (const std::string& name : stale) {
    Report(fuse_lowlevel_notify_inval_entry(fs_.session->se, kRootIno, name.c_str(), name.size()),
           "inval_entry");
  }
  Report(fuse_lowlevel_notify_inval_inode(fs_.session->se, kRootIno, -1, 0), "inval_inode");
}

}  // namespace udm::daemon::volfs
