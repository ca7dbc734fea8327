// DeviceIo: plain read()/writev() on the session's descriptors, except that
// an open reply marked by the replying thread gets extra FOPEN_* flags.
#include "fuse/device_io.h"

#include <linux/fuse.h>
#include <sys/uio.h>
#include <unistd.h>

namespace udm::daemon::volfs {
namespace {

// Set by the thread that answers an OPEN, consumed by its reply's writev,
// which libfuse issues on the same thread inside fuse_reply_open().
thread_local uint32_t t_open_reply_flags = 0;

ssize_t ReadDevice(int fd, void* buf, size_t len, void* /*userdata*/) {
  return read(fd, buf, len);
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

}  // namespace udm::daemon::volfs
