// BufferPool: page-aligned I/O buffers for FUSE requests, recycled by size
// class so the hot path does not call the allocator. Alignment lets file
// backends take their O_DIRECT path.
#pragma once

#include <array>
#include <cstddef>
#include <mutex>
#include <vector>

namespace udm::daemon::volfs {

class BufferPool;

// One buffer from a pool, returned to it on destruction. Move-only.
class PooledBuffer {
 public:
  PooledBuffer() = default;
  PooledBuffer(BufferPool* pool, void* data, size_t capacity)
      : pool_(pool), data_(static_cast<char*>(data)), capacity_(capacity) {}
  PooledBuffer(PooledBuffer&& o) noexcept { *this = std::move(o); }
  PooledBuffer& operator=(PooledBuffer&& o) noexcept;
  ~PooledBuffer() { Reset(); }

  char* data() const { return data_; }
  size_t capacity() const { return capacity_; }
  explicit operator bool() const { return data_ != nullptr; }
  void Reset();

 private:
  BufferPool* pool_ = nullptr;
  char* data_ = nullptr;
  size_t capacity_ = 0;
};

// Thread-safe. Buffers may be returned from any thread. The pool must
// outlive every buffer taken from it.
class BufferPool {
 public:
  static constexpr size_t kAlign = 4096;

  BufferPool() = default;
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A 4096-aligned buffer of at least `bytes`; empty when out of memory.
  PooledBuffer Get(size_t bytes);

 private:
  friend class PooledBuffer;
  static constexpr size_t kMinShift = 12;  // 4 KiB
  static constexpr size_t kMaxShift = 21;  // 2 MiB: a 1 MiB write plus its edges
  static constexpr size_t kClasses = kMaxShift - kMinShift + 1;
  // Enough for a queue of 1 MiB writes that took their staging buffers.
  static constexpr size_t kCachedBytesPerClass = 32u << 20;

  struct SizeClass {
    std::mutex mu;
    std::vector<void*> free;  // guarded by mu
  };

  void Put(void* data, size_t capacity);
  static size_t ClassOf(size_t bytes);  // kClasses: too big to cache

  std::array<SizeClass, kClasses> classes_;
};

}  // namespace udm::daemon::volfs
