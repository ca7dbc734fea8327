// LogWriter: the thread that appends blocks to a log-writes log device (the
// userspace counterpart of dm-log-writes' log kthread). Blocks are queued
// from any thread, including I/O completions; the writer writes each one
// as an entry sector plus its data, then rewrites the super so that it
// counts them, then runs their on_logged callbacks.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "udm/block_device.h"
#include "udm/error.h"

namespace udm {

// One entry to be logged: a write, discard, flush or mark.
struct PendingBlock {
  uint64_t flags = 0;       // logwrites::kFlag*
  uint64_t sector = 0;      // 512-byte sectors of the data device
  uint64_t nr_sectors = 0;
  std::vector<uint8_t> data;  // the written bytes (writes only)
  std::string mark;           // a mark's name
  // Runs once the entry (and every entry queued before it) is on the log
  // device, with 0 or -errno; on the writer thread.
  std::function<void(int)> on_logged;
};

class LogWriter {
 public:
  // Starts the thread. `log` must outlive the writer.
  explicit LogWriter(std::shared_ptr<BlockDevice> log);
  // Logs everything still queued, then stops the thread.
  ~LogWriter();

  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Writes an empty log (super with zero entries) synchronously, on the
  // caller's thread; only before anything is queued.
  Status WriteInitialSuper();

  // Queues blocks in order. Never blocks on I/O.
  void Queue(std::vector<std::unique_ptr<PendingBlock>> blocks);
  // Waits until every queued block has been logged.
  void Drain();

  // "<logged entries> <highest allocated sector>[ logging_disabled]", the
  // kernel's status line.
  std::string StatusLine() const;
  bool enabled() const;

 private:
  void Loop();
  // Appends `batch` to the log; false if logging had to stop.
  bool WriteBatch(std::vector<std::unique_ptr<PendingBlock>>& batch, bool durable);
  int WriteSuper(uint64_t nr_entries);

  const std::shared_ptr<BlockDevice> log_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<PendingBlock>> queue_;  // guarded by mu_
  bool busy_ = false;                                // guarded by mu_: a batch is being written
  bool stop_ = false;                                // guarded by mu_
  bool enabled_ = true;                              // guarded by mu_
  uint64_t logged_entries_ = 0;                      // guarded by mu_
  uint64_t next_sector_ = 1;                         // guarded by mu_: the next free log sector

  std::thread thread_;  // last: started once the state above exists
};

}  // namespace udm
