// Payload helpers for Bio: walking the iovec list at a byte offset.
#include "udm/bio.h"

#include <algorithm>
#include <cstring>

#include "udm/check.h"

namespace udm {

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kRead: return "read";
    case Op::kWrite: return "write";
    case Op::kFlush: return "flush";
    case Op::kDiscard: return "discard";
    case Op::kWriteZeroes: return "write-zeroes";
  }
  return "unknown";
}

namespace {

// Calls fn(segment_ptr, segment_len) for `len` bytes of the payload,
// starting `offset` bytes into it.
template <typename Fn>
void ForEachSegment(const Bio& bio, uint64_t offset, uint64_t len, Fn fn) {
  uint64_t skip = bio.iov_offset + offset;
  for (uint32_t i = 0; i < bio.iov_count && len > 0; ++i) {
    const iovec& v = bio.iov[i];
    if (skip >= v.iov_len) {
      skip -= v.iov_len;
      continue;
    }
    const uint64_t n = std::min<uint64_t>(v.iov_len - skip, len);
    fn(static_cast<uint8_t*>(v.iov_base) + skip, n);
    len -= n;
    skip = 0;
  }
  UDM_CHECK(len == 0);
}

}  // namespace

void CopyFromBio(const Bio& bio, uint64_t offset, void* dst, uint64_t len) {
  auto* out = static_cast<uint8_t*>(dst);
  ForEachSegment(bio, offset, len, [&](uint8_t* p, uint64_t n) {
    std::memcpy(out, p, n);
    out += n;
  });
}

void CopyToBio(const Bio& bio, uint64_t offset, const void* src, uint64_t len) {
  auto* in = static_cast<const uint8_t*>(src);
  ForEachSegment(bio, offset, len, [&](uint8_t* p, uint64_t n) {
    std::memcpy(p, in, n);
    in += n;
  });
}

void ZeroBio(const Bio& bio, uint64_t offset, uint64_t len) {
  ForEachSegment(bio, offset, len, [](uint8_t* p, uint64_t n) { std::memset(p, 0, n); });
}

}  // namespace udm
