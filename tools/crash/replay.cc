// ReplayLog: writes each selected entry's data at its sector; a discard
// becomes a hole (files) or a zeroed range (block devices), which is what a
// udm file backend leaves behind, so a replay reproduces the data device.
#include "replay.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace udm::crash {
namespace {

Status WriteAll(int fd, const uint8_t* p, size_t n, uint64_t off) {
  while (n > 0) {
    const ssize_t r = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return SysError(r < 0 ? errno : EIO, "write replay target");
    p += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return {};
}

Status ZeroRange(int fd, bool block_dev, uint64_t off, uint64_t len) {
  if (block_dev) {
    uint64_t range[2] = {off, len};
    if (::ioctl(fd, BLKZEROOUT, range) == 0) return {};
  } else if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off),
                         static_cast<off_t>(len)) == 0) {
    return {};
  }
  const std::vector<uint8_t> zeros(std::min<uint64_t>(len, 1u << 20), 0);
  while (len > 0) {
    const uint64_t n = std::min<uint64_t>(len, zeros.size());
    if (auto st = WriteAll(fd, zeros.data(), n, off); !st) return st;
    off += n;
    len -= n;
  }
  return {};
}

}  // namespace

Result<uint64_t> SelectEntries(const ParsedLog& log, const ReplayOptions& opts) {
  uint64_t count = log.entries.size();
  if (opts.end_mark) {
    const int64_t at = log.FindMark(*opts.end_mark);
    if (at < 0) return InvalidArgument("mark '{}' is not in the log", *opts.end_mark);
    count = static_cast<uint64_t>(at) + 1;
  }
  if (opts.limit) count = std::min(count, *opts.limit);
  return count;
}

Result<uint64_t> ReplayLog(const ParsedLog& log, const std::string& path,
                           const ReplayOptions& opts) {
  auto count = SelectEntries(log, opts);
  if (!count) return count;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return SysError(errno, "open " + path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return SysError(errno, "stat " + path);
  const bool block_dev = S_ISBLK(st.st_mode);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (block_dev && ::ioctl(fd, BLKGETSIZE64, &size) != 0) return SysError(errno, "size " + path);
  for (uint64_t i = 0; i < *count; ++i) {
    const LogEntry& e = log.entries[i];
    if (e.is_write() && (e.sector + e.nr_sectors) * 512 > size) {
      return InvalidArgument("{} is {} bytes but {} writes up to byte {}", path, size,
                             DescribeEntry(e), (e.sector + e.nr_sectors) * 512);
    }
  }
  std::vector<uint8_t> buf;
  for (uint64_t i = 0; i < *count; ++i) {
    const LogEntry& e = log.entries[i];
    if (!e.is_write()) continue;
    const uint64_t off = e.sector * 512, len = e.nr_sectors * 512;
    if (e.is_discard()) {
      if (auto s = ZeroRange(fd, block_dev, off, len); !s) return std::unexpected(s.error());
      continue;
    }
    for (uint64_t done = 0; done < len;) {
      const uint64_t n = std::min<uint64_t>(len - done, 4u << 20);
      buf.resize(n);
      if (auto s = log.ReadData(e, done, buf); !s) return std::unexpected(s.error());
      if (auto s = WriteAll(fd, buf.data(), n, off + done); !s) return std::unexpected(s.error());
      done += n;
    }
  }
  if (::fsync(fd) != 0) return SysError(errno, "sync " + path);
  return *count;
}

}  // namespace udm::crash
