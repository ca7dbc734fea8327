// Tests for crash-state images: a state reads as the base image with the
// state's writes applied in order (torn ones cut short, discards as zeros),
// and the checker's own writes stay in memory, never reaching a file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "overlay_device.h"
#include "udm/targets/log_writes_format.h"

namespace udm::crash {
namespace {

namespace lw = logwrites;

// A log of `writes` (sector, sectors, fill byte; fill 0 = discard).
std::shared_ptr<const ParsedLog> MakeLog(
    const std::vector<std::tuple<uint64_t, uint64_t, uint8_t>>& writes) {
  std::vector<uint8_t> b(512);
  for (const auto& [sector, n, fill] : writes) {
    const size_t at = b.size();
    b.resize(at + 512);
    lw::EncodeEntry({sector, n, fill == 0 ? lw::kFlagDiscard : 0, 0}, "",
                    std::span<uint8_t>(b.data() + at, 512));
    if (fill != 0) b.resize(b.size() + n * 512, fill);
  }
  lw::Super s;
  s.nr_entries = writes.size();
  lw::EncodeSuper(s, std::span<uint8_t>(b.data(), 512));
  auto log = ParseLogBytes(b);
  EXPECT_TRUE(log) << log.error().message;
  return std::make_shared<const ParsedLog>(std::move(*log));
}

class OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() / ("udm-overlay-" + std::to_string(getpid()));
    std::ofstream(path_, std::ios::binary) << std::string(64 * 512, '\x01');
    auto base = BaseImage::Open(path_);
    ASSERT_TRUE(base) << base.error().message;
    base_ = std::move(*base);
  }
  void TearDown() override { std::filesystem::remove(path_); }

  // The first byte of every sector in [0, 16) of `dev`.
  static std::string FirstBytes(BlockDevice& dev) {
    std::vector<uint8_t> buf(16 * 512);
    iovec iov{buf.data(), buf.size()};
    Bio bio;
    bio.op = Op::kRead;
    bio.sectors = 16;
    bio.iov = &iov;
    bio.iov_count = 1;
    int status = 1;
    bio.private_data = &status;
    bio.end_io = [](Bio* b, int st) { *static_cast<int*>(b->private_data) = st; };
    dev.Submit(&bio);
    EXPECT_EQ(status, 0);
    std::string out;
    for (int i = 0; i < 16; ++i) out += static_cast<char>('0' + buf[i * 512]);
    return out;
  }

  // The image of the state "all of `log`" over the base.
  Result<std::shared_ptr<const StateImage>> WholeLog(std::shared_ptr<const ParsedLog> log) {
    CrashState s;
    s.prefix = log->entries.size();
    return StateImage::Build(std::move(log), base_, s);
  }

  std::string path_;
  std::shared_ptr<BaseImage> base_;
};

TEST_F(OverlayTest, StateReadsAsBaseWithItsWritesApplied) {
  auto log = MakeLog({{0, 4, 2}, {2, 4, 3}, {8, 8, 4}, {12, 2, 0}});
  CrashState s;
  s.prefix = 2;                               // entries 0 and 1, in order
  s.extra = {Piece{3, 0, true}, Piece{2, 3, true}};  // discard, then entry 2 torn after 3
  auto img = StateImage::Build(log, base_, s);
  ASSERT_TRUE(img) << img.error().message;
  OverlayDevice dev("o", *img);
  // 0-1 entry 0, 2-5 entry 1, 6-7 base, 8-10 torn entry 2, 11 base, 12-13
  // discarded, 14-15 base.
  EXPECT_EQ(FirstBytes(dev), "2233331144410011");
}

TEST_F(OverlayTest, CheckerWritesStayInMemory) {
  auto img = WholeLog(MakeLog({{0, 2, 5}}));
  ASSERT_TRUE(img);
  OverlayDevice dev("o", *img);
  std::vector<uint8_t> buf(512, 9);
  iovec iov{buf.data(), buf.size()};
  Bio w;
  w.op = Op::kWrite;
  w.sector = 1;
  w.sectors = 1;
  w.iov = &iov;
  w.iov_count = 1;
  w.end_io = [](Bio*, int st) { EXPECT_EQ(st, 0); };
  dev.Submit(&w);
  EXPECT_EQ(FirstBytes(dev), "5911111111111111");
  OverlayDevice fresh("o2", *img);  // another checker of the same state
  EXPECT_EQ(FirstBytes(fresh), "5511111111111111");
  std::ifstream in(path_, std::ios::binary);
  EXPECT_EQ(in.get(), 1);  // the base is untouched
}

TEST_F(OverlayTest, WritesPastTheBaseAreRefused) {
  auto img = WholeLog(MakeLog({{60, 8, 5}}));
  ASSERT_FALSE(img);
  EXPECT_NE(img.error().message.find("ends past the 64-sector base image"), std::string::npos);
}

}  // namespace
}  // namespace udm::crash
