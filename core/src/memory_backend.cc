// MemoryBackend: a RAM disk that applies each request atomically.
#include <cstring>

#include "udm/backends.h"
#include "udm/check.h"

namespace udm {

MemoryBackend::MemoryBackend(std::string name, uint64_t sectors)
    : name_(std::move(name)), sectors_(sectors), data_(sectors << kSectorShift) {}

void MemoryBackend::Submit(Bio* bio) {
  if (bio->end_sector() > sectors_ || bio->end_sector() < bio->sector) {
    bio->Complete(-EIO);
    return;
  }
  const uint64_t off = bio->sector << kSectorShift;
  {
    std::lock_guard<std::mutex> g(mu_);
    switch (bio->op) {
      case Op::kRead: CopyToBio(*bio, 0, data_.data() + off, bio->bytes()); break;
      case Op::kWrite: CopyFromBio(*bio, 0, data_.data() + off, bio->bytes()); break;
      case Op::kDiscard:
      case Op::kWriteZeroes: std::memset(data_.data() + off, 0, bio->bytes()); break;
      case Op::kFlush: break;
    }
  }
  bio->Complete(0);
}

std::vector<uint8_t> MemoryBackend::Read(uint64_t sector, uint64_t count) const {
  UDM_CHECK(sector + count <= sectors_);
  std::lock_guard<std::mutex> g(mu_);
  auto first = data_.begin() + static_cast<ptrdiff_t>(sector << kSectorShift);
  return std::vector<uint8_t>(first, first + static_cast<ptrdiff_t>(count << kSectorShift));
}

void MemoryBackend::Write(uint64_t sector, const std::vector<uint8_t>& data) {
  UDM_CHECK((sector << kSectorShift) + data.size() <= data_.size());
  std::lock_guard<std::mutex> g(mu_);
  std::memcpy(data_.data() + (sector << kSectorShift), data.data(), data.size());
}

}  // namespace udm
