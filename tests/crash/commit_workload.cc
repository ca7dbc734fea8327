// A tiny "database" for crash-checker tests: it writes a 4 KiB data block,
// then a commit record that names the data's checksum, to a raw volume with
// O_DIRECT. `write FILE wrong` issues no flush between the two (the bug a
// crash checker must find); `write FILE correct` fdatasyncs in between.
// `verify FILE` is the checker: a commit record implies its data is there.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr size_t kBlock = 4096;
constexpr off_t kCommitOffset = 0;
constexpr off_t kDataOffset = 1 << 20;
constexpr char kMagic[8] = {'C', 'O', 'M', 'M', 'I', 'T', '0', '1'};

uint64_t Fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

uint8_t* AlignedBlock() {
  void* p = nullptr;
  if (posix_memalign(&p, kBlock, kBlock) != 0) std::abort();
  std::memset(p, 0, kBlock);
  return static_cast<uint8_t*>(p);
}

bool WriteBlock(int fd, const uint8_t* buf, off_t off) {
  return pwrite(fd, buf, kBlock, off) == static_cast<ssize_t>(kBlock);
}

int Write(const char* path, bool correct) {
  const int fd = open(path, O_RDWR | O_DIRECT);
  if (fd < 0) return perror(path), 2;
  uint8_t* data = AlignedBlock();
  for (size_t i = 0; i < kBlock; ++i) data[i] = static_cast<uint8_t>(i * 7 + 3);
  uint8_t* commit = AlignedBlock();
  std::memcpy(commit, kMagic, sizeof(kMagic));
  const uint64_t sum = Fnv1a(data, kBlock);
  std::memcpy(commit + sizeof(kMagic), &sum, sizeof(sum));
  if (!WriteBlock(fd, data, kDataOffset)) return perror("write data"), 2;
  if (correct && fdatasync(fd) != 0) return perror("fdatasync"), 2;
  if (!WriteBlock(fd, commit, kCommitOffset)) return perror("write commit"), 2;
  if (fdatasync(fd) != 0) return perror("fdatasync"), 2;
  close(fd);
  return 0;
}

int Verify(const char* path) {
  const int fd = open(path, O_RDONLY);
  if (fd < 0) return perror(path), 2;
  uint8_t commit[kBlock], data[kBlock];
  if (pread(fd, commit, kBlock, kCommitOffset) != static_cast<ssize_t>(kBlock) ||
      pread(fd, data, kBlock, kDataOffset) != static_cast<ssize_t>(kBlock)) {
    return perror("read"), 2;
  }
  close(fd);
  if (std::memcmp(commit, kMagic, sizeof(kMagic)) != 0) {
    std::printf("no commit record: nothing to check\n");
    return 0;
  }
  uint64_t want = 0;
  std::memcpy(&want, commit + sizeof(kMagic), sizeof(want));
  if (Fnv1a(data, kBlock) != want) {
    std::printf("commit record present but its data is not\n");
    return 1;
  }
  std::printf("commit record and data present\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "write" && argc == 4) return Write(argv[2], std::string(argv[3]) == "correct");
  if (cmd == "verify" && argc == 3) return Verify(argv[2]);
  std::fprintf(stderr, "usage: commit_workload write FILE wrong|correct | verify FILE\n");
  return 2;
}
