// FUSE over io_uring (kernel 6.14+, /sys/module/fuse/parameters/enable_uring):
// one queue per possible CPU, each a thread with its own io_uring. The
// kernel hands a request to the queue of the CPU its sender runs on by
// completing one of the queue's registered commands; the thread handles it
// (through libfuse's dispatch, so the callbacks are the same as on
// /dev/fuse), puts the file I/O it causes on the same ring (udm::ThreadRing),
// and answers with a commit that also fetches the next request. A request
// thus costs no read() or writev() on /dev/fuse and no hand-off between
// threads. /dev/fuse stays in use for INIT, FORGET, INTERRUPT and
// notifications, and for everything when the kernel does not offer the
// ring. Replies made on other threads reach the queue's thread through a
// list and an eventfd.
#pragma once

#include <fuse_lowlevel.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "udm/error.h"

namespace udm::daemon::volfs {

struct UringEntry;

// The ring entry whose request the calling thread is answering, if any.
// Replies made while it is set go to that entry (when the unique matches).
UringEntry* CurrentUringEntry();

// Sets the calling thread's current entry for a scope: every reply to a
// request that came through a ring must be made inside one.
class UringReplyScope {
 public:
  explicit UringReplyScope(UringEntry* e);
  ~UringReplyScope();
  UringReplyScope(const UringReplyScope&) = delete;
  UringReplyScope& operator=(const UringReplyScope&) = delete;

 private:
  UringEntry* saved_;
};

// The current entry's payload buffer (page-aligned) and its size, or
// nullptr. A read may land there directly; a write's payload is there.
char* UringPayload(size_t* capacity);

// From the /dev/fuse write hook: if iov is the reply to the current
// entry's request, stores it in the entry and commits it; returns true and
// the byte count written as `*written`.
bool SendReplyThroughRing(const iovec* iov, int count, ssize_t* written);

class UringTransport {
 public:
  // Registers `depth` entries per queue on `fuse_fd` (after INIT, which
  // must have negotiated the ring) and starts the queue threads. Payload
  // buffers hold `max_payload` bytes (the kernel's max_write/max_pages).
  static Result<std::shared_ptr<UringTransport>> Start(fuse_session* se, int fuse_fd,
                                                       unsigned depth, size_t max_payload);
  ~UringTransport();

  // Stops taking requests. Each queue thread leaves once the requests it
  // holds are answered; Stop does not wait for that.
  void Stop();
  unsigned queues() const;

 private:
  struct Impl;
  explicit UringTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace udm::daemon::volfs
