// StateImage and OverlayDevice: a per-sector map from the state's writes
// to their data in the log; reads gather runs of sectors that come from one
// contiguous place and read each run with one pread.
#include "overlay_device.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace udm::crash {

Result<std::shared_ptr<BaseImage>> BaseImage::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return SysError(errno, "open base image " + path);
  struct stat st {};
  uint64_t size = 0;
  if (::fstat(fd, &st) == 0) size = static_cast<uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode)) (void)::ioctl(fd, BLKGETSIZE64, &size);
  if (size < 512) {
    ::close(fd);
    return InvalidArgument("base image {} is {} bytes: too small", path, size);
  }
  return std::shared_ptr<BaseImage>(new BaseImage(path, fd, size / 512));
}

BaseImage::~BaseImage() { ::close(fd_); }

Status BaseImage::Read(uint64_t offset, std::span<uint8_t> out) const {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done,
                              static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError(errno, "read base image " + path_);
    if (n == 0) {  // a shorter file reads as zeros, like a sparse tail
      std::memset(out.data() + done, 0, out.size() - done);
      break;
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<std::shared_ptr<const StateImage>> StateImage::Build(
    std::shared_ptr<const ParsedLog> log, std::shared_ptr<const BaseImage> base,
    const CrashState& state) {
  auto img = std::make_shared<StateImage>();
  img->log_ = std::move(log);
  img->base_ = std::move(base);
  auto apply = [&](const LogEntry& e, uint64_t sectors) -> Status {
    if (!e.is_write()) return {};
    if (e.sector + e.nr_sectors > img->sectors()) {
      return InvalidArgument("{} ends past the {}-sector base image {}", DescribeEntry(e),
                             img->sectors(), img->base_->path());
    }
    for (uint64_t k = 0; k < sectors; ++k) {
      img->map_[e.sector + k] = e.is_discard() ? kZero : e.data_offset + k * 512;
    }
    return {};
  };
  for (uint64_t i = 0; i < state.prefix; ++i) {
    const LogEntry& e = img->log_->entries[i];
    if (auto st = apply(e, e.nr_sectors); !st) return std::unexpected(st.error());
  }
  for (const Piece& p : state.extra) {
    const LogEntry& e = img->log_->entries[p.entry];
    if (auto st = apply(e, p.sectors ? p.sectors : e.nr_sectors); !st) {
      return std::unexpected(st.error());
    }
  }
  return img;
}

Status StateImage::Read(uint64_t sector, std::span<uint8_t> out) const {
  const uint64_t count = out.size() / 512;
  // Source of a sector: {in log?, byte offset}; kZero means zeros.
  auto source = [&](uint64_t s) -> std::pair<bool, uint64_t> {
    auto it = map_.find(s);
    if (it == map_.end()) return {false, s * 512};
    return {true, it->second};
  };
  for (uint64_t i = 0; i < count;) {
    const auto [in_log, off] = source(sector + i);
    uint64_t run = 1;
    while (i + run < count) {
      const auto [l2, o2] = source(sector + i + run);
      const bool contiguous = off == kZero ? o2 == kZero : o2 == off + run * 512;
      if (l2 != in_log || !contiguous) break;
      ++run;
    }
    std::span<uint8_t> part = out.subspan(i * 512, run * 512);
    if (in_log && off == kZero) {
      std::memset(part.data(), 0, part.size());
    } else if (in_log) {
      if (auto st = log_->source->ReadAt(off, part); !st) return st;
    } else if (auto st = base_->Read(off, part); !st) {
      return st;
    }
    i += run;
  }
  return {};
}

void OverlayDevice::Submit(Bio* bio) {
  if (bio->end_sector() > sectors()) {
    bio->Complete(-EIO);
    return;
  }
  switch (bio->op) {
    case Op::kRead: bio->Complete(Read(*bio)); return;
    case Op::kWrite: Write(*bio, false); break;
    case Op::kDiscard:
    case Op::kWriteZeroes: Write(*bio, true); break;
    case Op::kFlush: break;
  }
  bio->Complete(0);
}

int OverlayDevice::Read(const Bio& bio) {
  std::vector<uint8_t> buf(bio.bytes());
  if (auto st = image_->Read(bio.sector, buf); !st) return -st.error().sys_errno;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!written_.empty()) {
      for (uint64_t k = 0; k < bio.sectors; ++k) {
        auto it = written_.find(bio.sector + k);
        if (it != written_.end()) std::memcpy(buf.data() + k * 512, it->second.data(), 512);
      }
    }
  }
  CopyToBio(bio, 0, buf.data(), buf.size());
  return 0;
}

void OverlayDevice::Write(const Bio& bio, bool zero) {
  std::vector<uint8_t> buf(bio.bytes(), 0);
  if (!zero) CopyFromBio(bio, 0, buf.data(), buf.size());
  std::lock_guard<std::mutex> g(mu_);
  for (uint64_t k = 0; k < bio.sectors; ++k) {
    std::memcpy(written_[bio.sector + k].data(), buf.data() + k * 512, 512);
  }
}

}  // namespace udm::crash
