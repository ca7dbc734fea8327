// The core and disk region logs. The disk format is dm-log's, so the clean
// bits survive a restart and only dirty regions are resynced.
#include "mirror/region_log.h"

#include <cstring>

#include <fmt/core.h>

namespace udm::mirror {
namespace {

constexpr uint32_t kLogMagic = 0x4D695272;  // dm-log's MIRROR_MAGIC
constexpr uint32_t kLogVersion = 2;
constexpr uint64_t kBitsOffset = 1024;

// The header fields are little-endian; read and write them byte by byte so
// the format does not depend on the host.
void PutLe(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t GetLe(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

}  // namespace

RegionLog::RegionLog(std::shared_ptr<BlockDevice> dev, uint64_t nr_regions, SyncMode sync)
    : dev_(std::move(dev)), nr_regions_(nr_regions), sync_(sync) {
  if (dev_ != nullptr) {
    buf_bytes_ = DiskLogBytes(nr_regions_);
    buf_ = MakeAlignedBuffer(buf_bytes_);
  }
}

std::vector<uint8_t> RegionLog::Load() {
  const uint8_t fresh = sync_ == SyncMode::kNoSync ? 1 : 0;
  std::vector<uint8_t> in_sync(nr_regions_, fresh);
  if (dev_ == nullptr) return in_sync;

  uint8_t* b = buf_.get();
  uint64_t known = 0;  // regions whose bit the log holds
  if (SyncIo(*dev_, Op::kRead, 0, b, buf_bytes_) != 0) {
    health_ = 'D';
    std::fill(in_sync.begin(), in_sync.end(), 0);  // unknown: everything out of sync
  } else if (sync_ == SyncMode::kDefault && GetLe(b, 4) == kLogMagic &&
             (GetLe(b + 4, 4) == kLogVersion || GetLe(b + 4, 4) == 1)) {
    // Version 1 differs only on big-endian hosts; dm-log reads it as 2 too.
    known = std::min<uint64_t>(GetLe(b + 8, 8), nr_regions_);
  }
  for (uint64_t r = 0; r < known; ++r) in_sync[r] = (b[kBitsOffset + r / 8] >> (r % 8)) & 1;
  return in_sync;
}

int RegionLog::Store(const std::vector<uint8_t>& clean, bool flush) {
  if (dev_ == nullptr) return 0;
  uint8_t* b = buf_.get();
  std::memset(b, 0, buf_bytes_);
  PutLe(b, kLogMagic, 4);
  PutLe(b + 4, kLogVersion, 4);
  PutLe(b + 8, nr_regions_, 8);
  for (uint64_t r = 0; r < nr_regions_; ++r) {
    if (clean[r]) b[kBitsOffset + r / 8] |= static_cast<uint8_t>(1u << (r % 8));
  }
  if (int r = SyncIo(*dev_, Op::kWrite, 0, b, buf_bytes_); r != 0) {
    char healthy = 'A';
    health_.compare_exchange_strong(healthy, 'D');
    return r;
  }
  if (flush) {
    if (int r = SyncIo(*dev_, Op::kFlush, 0, nullptr, 0); r != 0) {
      health_ = 'F';
      return r;
    }
  }
  return 0;
}

std::string RegionLog::InfoStatus() const {
  if (dev_ == nullptr) return "1 core";
  return fmt::format("3 disk {} {}", dev_->name(), health_.load());
}

}  // namespace udm::mirror
