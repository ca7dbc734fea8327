// Blocking single-request I/O for the mirror's log and resync threads.
#include "mirror/sync_io.h"

#include <sys/uio.h>

#include <condition_variable>
#include <cstring>
#include <mutex>

namespace udm::mirror {

AlignedBuffer MakeAlignedBuffer(uint64_t bytes) {
  const uint64_t rounded = (bytes + 4095) & ~uint64_t{4095};
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(4096, rounded == 0 ? 4096 : rounded));
  if (p != nullptr) std::memset(p, 0, rounded == 0 ? 4096 : rounded);
  return AlignedBuffer(p);
}

namespace {

struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // guarded by mu
  int status = 0;     // guarded by mu
};

void WakeWaiter(Bio* bio, int status) {
  auto* w = static_cast<Waiter*>(bio->private_data);
  std::lock_guard<std::mutex> g(w->mu);
  w->status = status;
  w->done = true;
  w->cv.notify_all();
}

}  // namespace

int SyncIo(BlockDevice& dev, Op op, uint64_t sector, uint8_t* buf, uint64_t bytes,
           uint32_t flags) {
  Waiter w;
  iovec iov{buf, bytes};
  Bio bio;
  bio.op = op;
  bio.flags = flags;
  bio.sector = sector;
  if (op != Op::kFlush) {
    bio.sectors = bytes >> kSectorShift;
    bio.iov = &iov;
    bio.iov_count = 1;
  }
  bio.end_io = &WakeWaiter;
  bio.private_data = &w;
  dev.Submit(&bio);
  std::unique_lock<std::mutex> l(w.mu);
  w.cv.wait(l, [&] { return w.done; });
  return w.status;
}

}  // namespace udm::mirror
