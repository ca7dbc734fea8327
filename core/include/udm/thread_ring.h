// ThreadRing: an io_uring that belongs to one thread's own event loop (the
// FUSE-over-io_uring queue threads). While it is bound to its thread, file
// backends put the requests that thread submits on it instead of handing
// them to the shared UringWorker thread: the request is issued, completed
// and answered on the thread that received it, with no wakeup in between.
#pragma once

#include <cstdint>
#include <vector>

struct io_uring;

namespace udm {

class UringOp;

class ThreadRing {
 public:
  // `ring` is owned and driven by the caller; at most `max_inflight` file
  // requests are put on it at once (more go to the shared worker).
  ThreadRing(io_uring* ring, unsigned max_inflight) : ring_(ring), max_inflight_(max_inflight) {}
  ~ThreadRing();  // unbinds; nothing may be in flight
  ThreadRing(const ThreadRing&) = delete;
  ThreadRing& operator=(const ThreadRing&) = delete;

  // From now on the calling thread's ring (until Unbind or destruction).
  void Bind();
  void Unbind();

  // The loop's own CQEs must carry odd user_data; even ones belong to the
  // file requests put here and go to Complete().
  static bool OwnsCqe(uint64_t user_data) { return user_data != 0 && (user_data & 1) == 0; }
  void Complete(uint64_t user_data, int res);
  // Prepares the next steps of requests that need another SQE; call before
  // every submit.
  void Flush();
  unsigned inflight() const { return inflight_; }

  // File backends only: puts `op` on the calling thread's ring, if it has
  // one with room. False: post it to the shared worker.
  static bool TryPost(UringOp* op);

 private:
  bool Prep(UringOp* op);

  io_uring* const ring_;
  const unsigned max_inflight_;
  unsigned inflight_ = 0;
  std::vector<UringOp*> again_;  // completed a step, waiting for an SQE
};

}  // namespace udm
