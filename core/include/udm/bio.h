// The I/O request ("bio") that flows from a submitter through a mapped
// device and its targets down to backends. Modelled on the kernel's struct
// bio: the submitter owns the Bio and keeps it (and the memory its iovecs
// point to) alive until end_io has been called, exactly once.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <string_view>

namespace udm {

class BlockDevice;

inline constexpr unsigned kSectorShift = 9;
inline constexpr uint64_t kSectorSize = 1u << kSectorShift;

enum class Op : uint8_t {
  kRead,
  kWrite,
  kFlush,        // no payload: make completed writes durable
  kDiscard,      // sectors may read back as anything (zeros on files)
  kWriteZeroes,  // sectors read back as zeros
};

// Request flags, as in the kernel's REQ_* bits.
inline constexpr uint32_t kPreflush = 1u << 0;  // flush caches before the payload
inline constexpr uint32_t kFua = 1u << 1;       // the payload is durable on completion
inline constexpr uint32_t kBarrier = 1u << 2;   // ordered barrier: not reordered with anything

struct Bio;
// Completion: status is 0 or -errno. Called exactly once per submission, on
// any thread (possibly inside Submit()).
using BioEndIo = void (*)(Bio* bio, int status);

struct Bio {
  Op op = Op::kRead;
  uint32_t flags = 0;
  uint64_t sector = 0;   // start, in 512-byte sectors
  uint64_t sectors = 0;  // length; 0 for a flush

  // Payload of reads and writes: `sectors * 512` bytes starting
  // `iov_offset` bytes into the iovec list. Unused for other operations.
  const iovec* iov = nullptr;
  uint32_t iov_count = 0;
  uint64_t iov_offset = 0;

  BioEndIo end_io = nullptr;
  void* private_data = nullptr;  // the submitter's, untouched by udm

  // Set by a target's Map() for requests it remaps: the device the clone
  // goes to. The engine submits the clone there.
  BlockDevice* device = nullptr;
  // Which of a target's num_flush_bios clones this is (flushes only).
  uint32_t target_bio_nr = 0;

  uint64_t bytes() const { return sectors << kSectorShift; }
  uint64_t end_sector() const { return sector + sectors; }
  bool has_data() const { return op == Op::kRead || op == Op::kWrite; }
  bool is_write_like() const {
    return op == Op::kWrite || op == Op::kDiscard || op == Op::kWriteZeroes;
  }
  void Complete(int status) { end_io(this, status); }
};

std::string_view OpName(Op op);

// Copies `len` bytes between a flat buffer and the payload of `bio`,
// starting `offset` bytes into the payload.
void CopyFromBio(const Bio& bio, uint64_t offset, void* dst, uint64_t len);
void CopyToBio(const Bio& bio, uint64_t offset, const void* src, uint64_t len);
// Fills `len` bytes of the payload with zeros.
void ZeroBio(const Bio& bio, uint64_t offset, uint64_t len);

}  // namespace udm
