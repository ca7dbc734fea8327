// Invalidator: tells the kernel to drop cached volume attributes and entries
// from a thread of its own, since a notification may wait for FUSE requests
// in progress (the kernel takes the directory's lock); callers only queue.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace udm::daemon::volfs {

struct FsState;

class Invalidator {
 public:
  // Starts the thread. `fs` must outlive the Invalidator, and its session
  // must stay valid until Stop() returns.
  explicit Invalidator(FsState& fs);
  ~Invalidator() { Stop(); }

  Invalidator(const Invalidator&) = delete;
  Invalidator& operator=(const Invalidator&) = delete;

  // Queue an invalidation of `ino`'s attributes, and of the entry `old_name`
  // (then also a List()) if not empty. Thread-safe, never blocks on the kernel.
  void Inode(uint64_t ino, std::string old_name);
  // Queue a comparison of the kernel's cached entries with the directory.
  void List();
  // Waits until everything queued before the call has been sent to the
  // kernel, or `timeout` has passed (a notification can wait for a FUSE
  // request held up by a suspended volume). Returns whether it was sent.
  // Call with no lock held that a FUSE request may need.
  bool Settle(std::chrono::milliseconds timeout);
  // Runs what is queued, then joins the thread. Idempotent.
  void Stop();

 private:
  void Run();
  void DropEntry(const std::string& name);
  void DropStaleEntries();

  FsState& fs_;
  std::mutex mu_;  // a leaf
  std::condition_variable cv_;
  std::condition_variable sent_cv_;  // signalled when a batch has been sent
  std::vector<uint64_t> inodes_;    // guarded by mu_
  std::vector<std::string> names_;  // guarded by mu_
  bool list_ = false;               // guarded by mu_
  bool stop_ = false;               // guarded by mu_
  uint64_t queued_ = 0;             // guarded by mu_: notifications queued so far
  uint64_t sent_ = 0;               // guarded by mu_: of those, how many were sent
  std::thread thread_;
};

}  // namespace udm::daemon::volfs
