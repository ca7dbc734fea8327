// DeviceIo: each worker thread reads requests with readv() into libfuse's
// buffer (the request header and the WRITE arguments) and a page-aligned
// staging buffer of its own (the rest). A WRITE's payload thus arrives
// aligned; large ones are handed to the request without a copy, and the
// rest of any other request is moved back behind its header.
#include "fuse/device_io.h"

#include <linux/fuse.h>
#include <sys/uio.h>
#include <unistd.h>

#include <poll.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "fuse/fs_state.h"
#include "fuse/uring_transport.h"

namespace udm::daemon::volfs {
namespace {

// What the read hook puts in libfuse's buffer; the rest goes to staging.
constexpr size_t kWriteHeader = sizeof(fuse_in_header) + sizeof(fuse_write_in);
// FUSE_OVER_IO_URING in the INIT flags (bit 9 of flags2; protocol 7.42).
constexpr uint64_t kInitOverIoUring = uint64_t{1} << 41;
// Payloads from this size on keep the staging buffer (a fresh one is taken
// for the next read); smaller ones are copied into a buffer of their size.
constexpr size_t kKeepStagingMin = 64 * 1024;

// Per worker thread: the staging buffer and the WRITE staged in it.
struct Staging {
  PooledBuffer buf;
  const char* libfuse_data = nullptr;  // where libfuse thinks the payload is
  size_t size = 0;
};
thread_local Staging t_staging;

// Set by the thread that answers an OPEN, consumed by its reply's writev,
// which libfuse issues on the same thread inside fuse_reply_open().
thread_local uint32_t t_open_reply_flags = 0;

// The session whose INIT request this thread read: libfuse answers INIT on
// the thread that read it, so the reply hook finds it here. Nothing else in
// the reply hook may touch the FsState: replies to requests still in flight
// can come after the unmount has destroyed it.
thread_local FsState* t_init_fs = nullptr;

// The INIT request: what the kernel offers decides whether to ask for the
// ring in the reply.
void NoteInit(FsState& fs, const void* buf, size_t n) {
  const auto* in = static_cast<const fuse_in_header*>(buf);
  if (n < sizeof(*in) + sizeof(fuse_init_in) || in->opcode != FUSE_INIT) return;
  t_init_fs = &fs;
  const auto* arg = reinterpret_cast<const fuse_init_in*>(in + 1);
  uint64_t flags = arg->flags;
  if ((arg->flags & FUSE_INIT_EXT) != 0) flags |= uint64_t{arg->flags2} << 32;
  fs.kernel_offers_uring.store((flags & kInitOverIoUring) != 0);
  fs.init_unique.store(in->unique);
}

// Ring mode: wait for a request or for the stop eventfd; the latter ends
// the libfuse loop (it returns when its session has exited).
bool WaitReadable(int fd, const FsState& fs) {
  if (fs.stop_fd < 0) return true;
  pollfd p[2] = {{fd, POLLIN, 0}, {fs.stop_fd, POLLIN, 0}};
  while (poll(p, 2, -1) < 0) {
    if (errno != EINTR) return true;
  }
  return (p[1].revents & POLLIN) == 0;
}

ssize_t ReadDevice(int fd, void* buf, size_t len, void* userdata) {
  auto& fs = *static_cast<FsState*>(userdata);
  Staging& st = t_staging;
  st.libfuse_data = nullptr;
  if (!WaitReadable(fd, fs)) {
    errno = EINTR;
    return -1;
  }
  if (!fs.init_done.load(std::memory_order_relaxed)) {
    const ssize_t n = read(fd, buf, len);
    if (n > 0) NoteInit(fs, buf, static_cast<size_t>(n));
    return n;
  }
  if (len <= kWriteHeader) return read(fd, buf, len);
  if (st.buf.capacity() < len - kWriteHeader) {
    st.buf = fs.session->pool.Get(len - kWriteHeader);
    if (!st.buf) return read(fd, buf, len);  // out of memory: libfuse's own way
  }
  iovec iov[2] = {{buf, kWriteHeader}, {st.buf.data(), len - kWriteHeader}};
  const ssize_t n = readv(fd, iov, 2);
  if (n <= static_cast<ssize_t>(kWriteHeader)) return n;
  const auto* in = static_cast<const fuse_in_header*>(buf);
  const auto* arg = reinterpret_cast<const fuse_write_in*>(in + 1);
  const size_t rest = static_cast<size_t>(n) - kWriteHeader;
  if (in->opcode == FUSE_WRITE && arg->size == rest) {
    st.libfuse_data = static_cast<const char*>(buf) + kWriteHeader;
    st.size = rest;
  } else {
    std::memcpy(static_cast<char*>(buf) + kWriteHeader, st.buf.data(), rest);
  }
  return n;
}

// The INIT reply: asks for the ring when the kernel offers it and udmd
// wants it (libfuse 3.14 does not know the flag), and notes the payload
// size the ring's buffers need.
void PatchInitReply(FsState& fs, iovec* iov, int count) {
  if (count != 2 || iov[0].iov_len != sizeof(fuse_out_header) ||
      iov[1].iov_len < offsetof(fuse_init_out, flags2) + sizeof(uint32_t)) {
    return;
  }
  const auto* out = static_cast<const fuse_out_header*>(iov[0].iov_base);
  if (out->error != 0 || out->unique != fs.init_unique.load()) return;
  auto* arg = static_cast<fuse_init_out*>(iov[1].iov_base);
  if (fs.want_uring && fs.kernel_offers_uring.load()) {
    arg->flags |= FUSE_INIT_EXT;
    arg->flags2 |= static_cast<uint32_t>(kInitOverIoUring >> 32);
    fs.uring_negotiated.store(true);
  }
  const uint64_t pages_bytes = uint64_t{arg->max_pages} * 4096;
  fs.max_payload.store(static_cast<uint32_t>(
      std::max<uint64_t>({8192, arg->max_write, pages_bytes})));
}

// A successful open reply is a header followed by exactly one fuse_open_out.
ssize_t WriteDevice(int fd, iovec* iov, int count, void* /*userdata*/) {
  // First: an open reply gets its flags whichever way it travels.
  if (t_open_reply_flags != 0) {
    if (count == 2 && iov[0].iov_len == sizeof(fuse_out_header) &&
        iov[1].iov_len == sizeof(fuse_open_out) &&
        static_cast<const fuse_out_header*>(iov[0].iov_base)->error == 0) {
      static_cast<fuse_open_out*>(iov[1].iov_base)->open_flags |= t_open_reply_flags;
    }
    t_open_reply_flags = 0;
  }
  ssize_t written = 0;
  if (SendReplyThroughRing(iov, count, &written)) return written;
  if (FsState* fs = t_init_fs; fs != nullptr && count >= 1 &&
      static_cast<const fuse_out_header*>(iov[0].iov_base)->unique == fs->init_unique.load()) {
    t_init_fs = nullptr;
    PatchInitReply(*fs, iov, count);
    const ssize_t n = writev(fd, iov, count);
    fs->init_done.store(n >= 0);
    return n;
  }
  return writev(fd, iov, count);
}

}  // namespace

int InstallDeviceIo(fuse_session* se) {
  static const fuse_custom_io kIo = {
      .writev = &WriteDevice,
      .read = &ReadDevice,
      .splice_receive = nullptr,
      .splice_send = nullptr,
  };
  return fuse_session_custom_io(se, &kIo, fuse_session_fd(se));
}

void AddOpenReplyFlags(uint32_t flags) { t_open_reply_flags |= flags; }

void ClearOpenReplyFlags() { t_open_reply_flags = 0; }

WritePayload TakeWritePayload(const char* libfuse_data, size_t size) {
  Staging& st = t_staging;
  if (st.libfuse_data == nullptr || st.libfuse_data != libfuse_data || st.size != size) {
    return {libfuse_data, {}};  // read the usual way (no staging buffer)
  }
  st.libfuse_data = nullptr;
  if (size < kKeepStagingMin) return {st.buf.data(), {}};
  PooledBuffer owned = std::move(st.buf);
  const char* data = owned.data();
  return {data, std::move(owned)};
}

}  // namespace udm::daemon::volfs
