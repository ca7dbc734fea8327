#include "faults/fault_support.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <fmt/core.h>

namespace udm::test {
namespace {

constexpr uint64_t kMagic = 0x31306b6c626d6475ull;  // "udmblk01"

struct BlockHeader {
  uint64_t magic;
  uint32_t volume;
  uint32_t reserved;
  uint64_t block;
  uint64_t version;
};

// The body after the header: a xorshift stream seeded by the header, so a
// block from another place or version never passes for this one.
void FillBody(uint8_t* buf, const BlockHeader& h) {
  uint64_t x = (h.block * 0x9e3779b97f4a7c15ull) ^ (h.version << 17) ^ h.volume ^ 0x2545f4914f6cdd1dull;
  for (size_t off = sizeof(BlockHeader); off < kBlock; off += sizeof(uint64_t)) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(buf + off, &x, sizeof(x));
  }
}

}  // namespace

std::string LinearTable(const std::string& file, uint64_t bytes) {
  return fmt::format("0 {} linear {} 0", bytes / 512, file);
}

void FillBlock(uint8_t* buf, uint32_t volume, uint64_t block, uint64_t version) {
  const BlockHeader h{kMagic, volume, 0, block, version};
  std::memcpy(buf, &h, sizeof(h));
  FillBody(buf, h);
}

std::optional<uint64_t> BlockVersion(const uint8_t* buf, uint32_t volume, uint64_t block) {
  if (std::all_of(buf, buf + kBlock, [](uint8_t b) { return b == 0; })) return 0;
  BlockHeader h;
  std::memcpy(&h, buf, sizeof(h));
  if (h.magic != kMagic || h.volume != volume || h.block != block || h.version == 0) return std::nullopt;
  uint8_t expect[kBlock];
  FillBody(expect, h);
  if (std::memcmp(buf + sizeof(h), expect + sizeof(h), kBlock - sizeof(h)) != 0) return std::nullopt;
  return h.version;
}

BlockFile::BlockFile(const std::string& path, bool direct) {
  buf_ = static_cast<uint8_t*>(std::aligned_alloc(kBlock, kBlock));
  fd_ = open(path.c_str(), O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
  if (fd_ < 0) open_errno_ = errno;
}

BlockFile::~BlockFile() {
  if (fd_ >= 0) close(fd_);
  std::free(buf_);
}

int BlockFile::Write(uint32_t volume, uint64_t block, uint64_t version) {
  FillBlock(buf_, volume, block, version);
  const ssize_t n = pwrite(fd_, buf_, kBlock, static_cast<off_t>(block * kBlock));
  if (n < 0) return errno;
  return n == static_cast<ssize_t>(kBlock) ? 0 : EIO;
}

int BlockFile::Read(uint64_t block, std::vector<uint8_t>* out) {
  const ssize_t n = pread(fd_, buf_, kBlock, static_cast<off_t>(block * kBlock));
  if (n < 0) return errno;
  if (n != static_cast<ssize_t>(kBlock)) return EIO;
  out->assign(buf_, buf_ + kBlock);
  return 0;
}

int BlockFile::Sync() { return fdatasync(fd_) == 0 ? 0 : errno; }

std::string BlockFile::Check(uint32_t volume, uint64_t block, uint64_t version) {
  std::vector<uint8_t> data;
  if (int err = Read(block, &data); err != 0) {
    return fmt::format("block {}: read failed: {}", block, std::strerror(err));
  }
  auto got = BlockVersion(data.data(), volume, block);
  if (!got) return fmt::format("block {}: corrupt (expected version {})", block, version);
  if (*got != version) return fmt::format("block {}: version {}, expected {}", block, *got, version);
  return "";
}

int RunAsNobody(const std::function<int()>& fn) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) _exit(126);
    _exit(fn());
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

uint64_t RssKib(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

void FaultsFixture::WriteAndCheck(const std::string& volume, uint32_t id, uint64_t first,
                                  uint64_t count, uint64_t version) {
  BlockFile f(Vol(volume));
  ASSERT_TRUE(f.ok()) << volume << ": " << std::strerror(f.open_errno());
  for (uint64_t b = first; b < first + count; ++b) {
    ASSERT_EQ(f.Write(id, b, version), 0) << volume << " block " << b;
  }
  ASSERT_EQ(f.Sync(), 0) << volume;
  for (uint64_t b = first; b < first + count; ++b) ASSERT_EQ(f.Check(id, b, version), "") << volume;
}

void FaultsFixture::ExpectBlocks(const std::string& path, uint32_t id, uint64_t first,
                                 uint64_t count, uint64_t version) {
  BlockFile f(path, /*direct=*/false);
  ASSERT_TRUE(f.ok()) << path << ": " << std::strerror(f.open_errno());
  for (uint64_t b = first; b < first + count; ++b) EXPECT_EQ(f.Check(id, b, version), "") << path;
}

}  // namespace udm::test
