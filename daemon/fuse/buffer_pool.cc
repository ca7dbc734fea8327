// BufferPool: power-of-two size classes, each a mutex-protected free list
// with a bounded number of cached buffers.
#include "fuse/buffer_pool.h"

#include <bit>
#include <cstdlib>
#include <utility>

namespace udm::daemon::volfs {

PooledBuffer& PooledBuffer::operator=(PooledBuffer&& o) noexcept {
  if (this != &o) {
    Reset();
    pool_ = std::exchange(o.pool_, nullptr);
    data_ = std::exchange(o.data_, nullptr);
    capacity_ = std::exchange(o.capacity_, 0);
  }
  return *this;
}

void PooledBuffer::Reset() {
  if (data_ != nullptr) pool_->Put(data_, capacity_);
  pool_ = nullptr;
  data_ = nullptr;
  capacity_ = 0;
}

BufferPool::~BufferPool() {
  for (SizeClass& c : classes_) {
    for (void* p : c.free) std::free(p);
  }
}

size_t BufferPool::ClassOf(size_t bytes) {
  if (bytes <= (size_t{1} << kMinShift)) return 0;
  const size_t shift = std::bit_width(bytes - 1);
  return shift > kMaxShift ? kClasses : shift - kMinShift;
}

PooledBuffer BufferPool::Get(size_t bytes) {
  const size_t cls = ClassOf(bytes);
  if (cls == kClasses) {
    const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, rounded);
    return p != nullptr ? PooledBuffer(this, p, rounded) : PooledBuffer();
  }
  const size_t capacity = size_t{1} << (cls + kMinShift);
  {
    SizeClass& c = classes_[cls];
    std::lock_guard<std::mutex> g(c.mu);
    if (!c.free.empty()) {
      void* p = c.free.back();
      c.free.pop_back();
      return PooledBuffer(this, p, capacity);
    }
  }
  void* p = std::aligned_alloc(kAlign, capacity);
  return p != nullptr ? PooledBuffer(this, p, capacity) : PooledBuffer();
}

void BufferPool::Put(void* data, size_t capacity) {
  const size_t cls = ClassOf(capacity);
  if (cls < kClasses) {
    SizeClass& c = classes_[cls];
    std::lock_guard<std::mutex> g(c.mu);
    if (c.free.size() * capacity < kCachedBytesPerClass) {
      c.free.push_back(data);
      return;
    }
  }
  std::free(data);
}

}  // namespace udm::daemon::volfs
