// The on-disk format of the kernel's dm-log-writes target, shared by the
// log-writes target (which writes it) and udm-crash (which reads it), so
// logs replay with xfstests' replay-log and vice versa.
//
// Layout: sector 0 holds the super; then, for each entry, one log sector
// with the entry header (and a mark's name right after it), followed by
// nr_sectors of written data unless the entry is a discard. Every integer is
// little-endian; "sectors" in entries are in units of the super's sectorsize.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace udm::logwrites {

inline constexpr uint64_t kMagic = 0x6a736677736872ull;
inline constexpr uint64_t kVersion = 1;

inline constexpr uint64_t kFlagFlush = 1u << 0;
inline constexpr uint64_t kFlagFua = 1u << 1;
inline constexpr uint64_t kFlagDiscard = 1u << 2;
inline constexpr uint64_t kFlagMark = 1u << 3;
inline constexpr uint64_t kFlagMetadata = 1u << 4;
inline constexpr uint64_t kKnownFlags =
    kFlagFlush | kFlagFua | kFlagDiscard | kFlagMark | kFlagMetadata;

// sizeof(struct log_write_super) with its tail padding: magic, version,
// nr_entries (u64 at 0, 8, 16) and sectorsize (u32 at 24).
inline constexpr size_t kSuperSize = 32;
// sizeof(struct log_write_entry): sector, nr_sectors, flags, data_len (u64
// at 0, 8, 16, 24).
inline constexpr size_t kEntryHeaderSize = 32;
// The kernel's log sector size is the data device's logical block size;
// udm devices all have 512-byte sectors.
inline constexpr uint32_t kLogSectorSize = 512;
// Longest mark the entry sector has room for (the kernel keeps a NUL).
inline constexpr size_t MaxMarkLength(uint32_t sectorsize) {
  return sectorsize - kEntryHeaderSize - 1;
}

struct Super {
  uint64_t magic = kMagic;
  uint64_t version = kVersion;
  uint64_t nr_entries = 0;
  uint32_t sectorsize = kLogSectorSize;
};

struct EntryHeader {
  uint64_t sector = 0;      // in sectorsize units
  uint64_t nr_sectors = 0;  // in sectorsize units
  uint64_t flags = 0;
  uint64_t data_len = 0;  // bytes of inline data (a mark's name)
};

inline void PutLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void PutLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint64_t GetLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint32_t GetLe32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Fills `out` (one log sector) with the super, zero-padded.
inline void EncodeSuper(const Super& s, std::span<uint8_t> out) {
  std::memset(out.data(), 0, out.size());
  PutLe64(out.data() + 0, s.magic);
  PutLe64(out.data() + 8, s.version);
  PutLe64(out.data() + 16, s.nr_entries);
  PutLe32(out.data() + 24, s.sectorsize);
}

// `in` holds at least kSuperSize bytes.
inline Super DecodeSuper(std::span<const uint8_t> in) {
  return Super{GetLe64(in.data()), GetLe64(in.data() + 8), GetLe64(in.data() + 16),
               GetLe32(in.data() + 24)};
}

// Fills `out` (one log sector) with the entry header followed by `inline_data`
// (a mark's name; must fit), zero-padded.
inline void EncodeEntry(const EntryHeader& e, std::string_view inline_data,
                        std::span<uint8_t> out) {
  std::memset(out.data(), 0, out.size());
  PutLe64(out.data() + 0, e.sector);
  PutLe64(out.data() + 8, e.nr_sectors);
  PutLe64(out.data() + 16, e.flags);
  PutLe64(out.data() + 24, e.data_len);
  if (!inline_data.empty()) std::memcpy(out.data() + kEntryHeaderSize, inline_data.data(),
                                        inline_data.size());
}

// `in` holds at least kEntryHeaderSize bytes.
inline EntryHeader DecodeEntry(std::span<const uint8_t> in) {
  return EntryHeader{GetLe64(in.data()), GetLe64(in.data() + 8), GetLe64(in.data() + 16),
                     GetLe64(in.data() + 24)};
}

// "FLUSH|FUA", "NONE", unknown bits as "UNKNOWN.0x..": like replay-log -v.
inline std::string FlagsString(uint64_t flags) {
  static constexpr std::pair<uint64_t, const char*> kNames[] = {
      {kFlagFlush, "FLUSH"}, {kFlagFua, "FUA"},           {kFlagDiscard, "DISCARD"},
      {kFlagMark, "MARK"},   {kFlagMetadata, "METADATA"},
  };
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if ((flags & bit) == 0) continue;
    if (!out.empty()) out += '|';
    out += name;
    flags &= ~bit;
  }
  if (flags != 0) {
    if (!out.empty()) out += '|';
    char buf[40];
    std::snprintf(buf, sizeof(buf), "UNKNOWN.0x%llx", static_cast<unsigned long long>(flags));
    out += buf;
  }
  return out.empty() ? "NONE" : out;
}

}  // namespace udm::logwrites
