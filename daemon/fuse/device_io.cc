// DeviceIo: each worker thread reads requests with readv() into libfuse's
// buffer (the request header and the WRITE arguments) and a page-aligned
// staging buffer of its own (the rest). A WRITE's payload thus arrives
// aligned; large ones are handed to the request without a copy, and the
// rest of any other request is moved back behind its header.
#include "fuse/device_io.h"

#include <linux/fuse.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "fuse/fs_state.h"

namespace udm::daemon::volfs {
namespace {

// What the read hook puts in libfuse's buffer; the rest goes to staging.
constexpr size_t kWriteHeader = sizeof(fuse_in_header) + sizeof(fuse_write_in);
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

ssize_t ReadDevice(int fd, void* buf, size_t len, void* userdata) {
  Staging& st = t_staging;
  st.libfuse_data = nullptr;
  if (len <= kWriteHeader) return read(fd, buf, len);
  if (st.buf.capacity() < len - kWriteHeader) {
    st.buf = static_cast<FsState*>(userdata)->session->pool.Get(len - kWriteHeader);
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

// A successful open reply is a header followed by exactly one fuse_open_out.
ssize_t WriteDevice(int fd, iovec* iov, int count, void* /*userdata*/) {
  if (t_open_reply_flags != 0) {
    if (count == 2 && iov[0].iov_len == sizeof(fuse_out_header) &&
        iov[1].iov_len == sizeof(fuse_open_out) &&
        static_cast<const fuse_out_header*>(iov[0].iov_base)->error == 0) {
      static_cast<fuse_open_out*>(iov[1].iov_base)->open_flags |= t_open_reply_flags;
    }
    t_open_reply_flags = 0;
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
