// End-to-end check of how a mapped device maps requests: random tables of
// linear, striped, zero and error targets over in-memory devices, thousands
// of random requests through a real MappedDevice, against a reference model.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "support/test_io.h"
#include "support/test_resolver.h"
#include "udm/backends.h"

namespace udm::test {
namespace {

using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;
using Bytes = std::vector<uint8_t>;

constexpr int kDevices = 4;
constexpr uint64_t kDevSectors = 8192;  // 4 MiB per device
constexpr uint64_t kMaxRequestSectors = 256;
constexpr int kTablesPerSeed = 20;
constexpr int kRequestsPerTable = 150;

uint64_t Uniform(std::mt19937_64& rng, uint64_t lo, uint64_t hi) {
  return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
}
bool OneIn(std::mt19937_64& rng, uint64_t n) { return Uniform(rng, 1, n) == 1; }

Bytes RandomBytes(std::mt19937_64& rng, uint64_t n) {
  Bytes b(n);
  for (uint64_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(b.data() + i, &v, std::min<uint64_t>(8, n - i));
  }
  return b;
}

std::string DevName(int d) { return fmt::format("mem{}", d); }

// Where one sector of the table lives: a sector of a device, or nowhere.
constexpr int kZero = -1;
constexpr int kError = -2;
struct Place {
  int dev;          // 0..kDevices-1, kZero or kError
  uint64_t sector;  // on the device
};

// A random table: its text and, worked out here without the targets' code,
// the place of each of its sectors.
struct Layout {
  std::string text;
  std::vector<Place> places;    // one per table sector
  std::vector<uint64_t> edges;  // target and chunk starts, to aim requests at
};

// Hands out disjoint device regions, each after a random gap, so that no
// two table sectors share a device sector.
class Allocator {
 public:
  // A device with room for `len` more sectors, or -1.
  int Pick(std::mt19937_64& rng, uint64_t len) const {
    const int first = static_cast<int>(Uniform(rng, 0, kDevices - 1));
    for (int i = 0; i < kDevices; ++i) {
      const int d = (first + i) % kDevices;
      if (next_[d] + kMaxGap + len <= kDevSectors) return d;
    }
    return -1;
  }
  uint64_t Take(std::mt19937_64& rng, int d, uint64_t len) {
    const uint64_t offset = next_[d] + Uniform(rng, 0, kMaxGap);
    next_[d] = offset + len;
    return offset;
  }

 private:
  static constexpr uint64_t kMaxGap = 63;
  std::array<uint64_t, kDevices> next_{};
};

// Appends a linear target; false if no device has room.
bool AddLinear(std::mt19937_64& rng, Allocator& alloc, Layout& l) {
  const uint64_t start = l.places.size();
  const uint64_t len = Uniform(rng, 1, 1024);
  const int d = alloc.Pick(rng, len);
  if (d < 0) return false;
  const uint64_t offset = alloc.Take(rng, d, len);
  l.text += fmt::format("{} {} linear {} {}\n", start, len, DevName(d), offset);
  for (uint64_t i = 0; i < len; ++i) l.places.push_back({d, offset + i});
  return true;
}

// Appends a striped target of 2-4 stripes with a chunk of 8-128 sectors;
// false if the devices have no room.
bool AddStriped(std::mt19937_64& rng, Allocator& alloc, Layout& l) {
  const uint64_t start = l.places.size();
  const uint64_t stripes = Uniform(rng, 2, 4);
  const uint64_t chunk = uint64_t{8} << Uniform(rng, 0, 4);
  const uint64_t rows = Uniform(rng, 1, 8);  // chunks per stripe
  const uint64_t width = chunk * rows;
  std::vector<int> devs;
  std::vector<uint64_t> offsets;
  for (uint64_t s = 0; s < stripes; ++s) {
    const int d = alloc.Pick(rng, width);
    if (d < 0) return false;
    devs.push_back(d);
    offsets.push_back(alloc.Take(rng, d, width));
  }
  l.text += fmt::format("{} {} striped {} {}", start, stripes * width, stripes, chunk);
  for (uint64_t s = 0; s < stripes; ++s) {
    l.text += fmt::format(" {} {}", DevName(devs[s]), offsets[s]);
  }
  l.text += '\n';
  // The chunks of the target deal out over the stripes like cards: the first
  // row of chunks of every stripe in stripe order, then the second row, ...
  for (uint64_t row = 0; row < rows; ++row) {
    for (uint64_t s = 0; s < stripes; ++s) {
      l.edges.push_back(l.places.size());
      for (uint64_t i = 0; i < chunk; ++i) {
        l.places.push_back({devs[s], offsets[s] + row * chunk + i});
      }
    }
  }
  return true;
}

void AddNoDevice(std::mt19937_64& rng, bool error, Layout& l) {
  const uint64_t start = l.places.size();
  const uint64_t len = error ? Uniform(rng, 1, 64) : Uniform(rng, 1, 512);
  l.text += fmt::format("{} {} {}\n", start, len, error ? "error" : "zero");
  l.places.insert(l.places.end(), len, Place{error ? kError : kZero, 0});
}

Layout RandomLayout(std::mt19937_64& rng) {
  Layout l;
  Allocator alloc;
  const uint64_t targets = Uniform(rng, 1, 8);
  for (uint64_t t = 0; t < targets; ++t) {
    l.edges.push_back(l.places.size());
    const uint64_t kind = Uniform(rng, 0, 7);
    if (kind <= 2 && AddLinear(rng, alloc, l)) continue;
    if (kind >= 3 && kind <= 5 && AddStriped(rng, alloc, l)) continue;
    AddNoDevice(rng, kind == 7, l);
  }
  return l;
}

// A request payload scattered over iovecs of random sizes (not sector
// multiples), sometimes behind an iov_offset and with spare bytes after it.
// Bytes outside the payload hold a canary that no request may touch.
class Payload {
 public:
  static constexpr uint8_t kCanary = 0xa5;

  Payload(std::mt19937_64& rng, uint64_t bytes) : bytes_(bytes) {
    offset_ = OneIn(rng, 3) ? Uniform(rng, 1, 1500) : 0;
    const uint64_t tail = OneIn(rng, 4) ? Uniform(rng, 1, 700) : 0;
    uint64_t left = offset_ + bytes + tail;
    while (left > 0) {
      uint64_t n = left;
      if (segments_.size() + 1 < kMaxIovecs) {
        switch (Uniform(rng, 0, 7)) {
          case 0: n = 0; break;
          case 1: case 2: case 3: n = Uniform(rng, 1, 700); break;
          case 4: case 5: n = kSectorSize * Uniform(rng, 1, 16); break;
          default: n = Uniform(rng, 1, 64 * 1024); break;
        }
      }
      n = std::min(n, left);
      segments_.emplace_back(n, kCanary);
      left -= n;
    }
    for (Bytes& s : segments_) iov_.push_back(iovec{s.data(), s.size()});
  }

  void Attach(Bio* bio) {
    bio->iov = iov_.data();
    bio->iov_count = static_cast<uint32_t>(iov_.size());
    bio->iov_offset = offset_;
  }

  void Fill(const Bytes& data) {
    ForEachPart([&](uint8_t* p, uint64_t n, uint64_t at) { std::memcpy(p, data.data() + at, n); },
                [](uint8_t*, uint64_t) {});
  }

  Bytes Contents() {
    Bytes out(bytes_);
    ForEachPart([&](uint8_t* p, uint64_t n, uint64_t at) { std::memcpy(out.data() + at, p, n); },
                [](uint8_t*, uint64_t) {});
    return out;
  }

  bool CanariesIntact() {
    bool ok = true;
    ForEachPart([](uint8_t*, uint64_t, uint64_t) {},
                [&](uint8_t* p, uint64_t n) {
                  ok = ok && std::all_of(p, p + n, [](uint8_t b) { return b == kCanary; });
                });
    return ok;
  }

  std::string Describe() const {
    std::string out = fmt::format("iov_offset {}, {} iovecs:", offset_, iov_.size());
    for (const iovec& v : iov_) out += fmt::format(" {}", v.iov_len);
    return out;
  }

 private:
  static constexpr size_t kMaxIovecs = 64;

  // Calls in(ptr, len, payload_offset) for the payload parts of every
  // segment and out(ptr, len) for the rest.
  template <typename In, typename Out>
  void ForEachPart(In in, Out out) {
    uint64_t pos = 0;
    for (Bytes& s : segments_) {
      const uint64_t end = pos + s.size();
      const uint64_t a = std::clamp(offset_, pos, end);
      const uint64_t b = std::clamp(offset_ + bytes_, pos, end);
      out(s.data(), a - pos);
      if (b > a) in(s.data() + (a - pos), b - a, a - offset_);
      out(s.data() + (b - pos), end - b);
      pos = end;
    }
  }

  const uint64_t bytes_;
  uint64_t offset_ = 0;
  std::vector<Bytes> segments_;
  std::vector<iovec> iov_;
};

class MappingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 fill(0x5eed);
    for (int d = 0; d < kDevices; ++d) {
      devs_[d] = std::make_shared<MemoryBackend>(DevName(d), kDevSectors);
      shadow_[d] = RandomBytes(fill, kDevSectors * kSectorSize);
      devs_[d]->Write(0, shadow_[d]);
      resolver_.Add(devs_[d]);
    }
  }

  // Makes `l` the live table: a new device the first time, then a reload
  // (load into the inactive slot and resume).
  AssertionResult UseLayout(Layout l) {
    layout_ = std::move(l);
    if (md_ == nullptr) {
      md_ = MakeDevice(layout_.text, resolver_);
      if (md_ == nullptr) return AssertionFailure() << "table refused";
    } else {
      MappedDevice* md = md_.get();
      auto table = Table::FromText(layout_.text, BuiltinTargets(),
                                   TableOptions{true, &resolver_, [md] { md->RaiseEvent(); }});
      if (!table) return AssertionFailure() << "table refused: " << table.error().message;
      if (auto st = md_->Load(std::move(*table)); !st) {
        return AssertionFailure() << "load: " << st.error().message;
      }
      if (auto st = md_->Resume(); !st) {
        return AssertionFailure() << "resume: " << st.error().message;
      }
    }
    if (md_->sectors() != layout_.places.size()) {
      return AssertionFailure() << "device has " << md_->sectors() << " sectors, table "
                                << layout_.places.size();
    }
    auto text = md_->TableText(false, StatusType::kTable);
    if (!text || *text != layout_.text) {
      return AssertionFailure() << "live table reads back as:\n" << text.value_or("(none)");
    }
    return AssertionSuccess();
  }

  // One request of random kind, place and size; some cross the end.
  AssertionResult RandomRequest() {
    const uint64_t size = layout_.places.size();
    const uint64_t r = Uniform(rng_, 0, 99);
    const Op op = r < 40 ? Op::kRead : r < 80 ? Op::kWrite : r < 90 ? Op::kDiscard
                                                                   : Op::kWriteZeroes;
    uint64_t sectors = Uniform(rng_, 1, kMaxRequestSectors);
    uint64_t sector;
    if (OneIn(rng_, 25)) {  // ends past the end of the device
      sector = Uniform(rng_, size >= sectors ? size - sectors + 1 : 0, size + 64);
    } else {
      if (OneIn(rng_, 2)) {  // across a target or chunk edge
        const uint64_t edge = layout_.edges[Uniform(rng_, 0, layout_.edges.size() - 1)];
        sector = edge - std::min(edge, Uniform(rng_, 0, sectors - 1));
      } else {
        sector = Uniform(rng_, 0, size - 1);
      }
      sectors = std::min(sectors, size - sector);
    }
    return RunRequest(op, sector, sectors);
  }

  // Submits one request and checks its status, the data it read and what
  // it left on the devices against the model.
  AssertionResult RunRequest(Op op, uint64_t sector, uint64_t sectors) {
    const uint64_t size = layout_.places.size();
    const bool in_range = sector + sectors <= size;
    bool touches_error = false;
    for (uint64_t s = sector; in_range && s < sector + sectors; ++s) {
      touches_error = touches_error || layout_.places[s].dev == kError;
    }
    const int want = in_range && !touches_error ? 0 : -EIO;

    // A discard carries no buffer; the payload, if any, is attached below.
    std::unique_ptr<TestIo> io = TestIo::Make(Op::kDiscard, sector, sectors, 0);
    io->bio()->op = op;
    std::optional<Payload> payload;
    Bytes data;
    if (op == Op::kWrite || op == Op::kRead) {
      payload.emplace(rng_, sectors * kSectorSize);
      if (op == Op::kWrite) {
        data = RandomBytes(rng_, sectors * kSectorSize);
        payload->Fill(data);
      }
      payload->Attach(io->bio());
    } else {
      data.assign(sectors * kSectorSize, 0);
    }
    const std::string what =
        fmt::format("{} of {} sectors at {} (table has {}){}{}", OpName(op), sectors, sector,
                    size, payload ? ", " : "", payload ? payload->Describe() : "");

    md_->Submit(io->bio());
    if (!io->Wait()) return AssertionFailure() << what << ": never completed";
    ios_.push_back(std::move(io));
    const int status = ios_.back()->status();
    if (status != want) {
      return AssertionFailure() << what << ": completed with " << status << ", want " << want;
    }
    if (payload && !payload->CanariesIntact()) {
      return AssertionFailure() << what << ": changed bytes outside its payload";
    }

    const uint64_t last = std::min(sector + sectors, size);
    if (op == Op::kRead) {
      if (status != 0) return AssertionSuccess();
      const Bytes got = payload->Contents();
      for (uint64_t s = sector; s < last; ++s) {
        const Place& p = layout_.places[s];
        const uint8_t* want_data = p.dev >= 0 ? Shadow(p.dev, p.sector) : kZeroSector.data();
        if (std::memcmp(got.data() + (s - sector) * kSectorSize, want_data, kSectorSize) != 0) {
          return AssertionFailure() << what << ": table sector " << s << " read back wrong; "
                                    << Where(p);
        }
      }
      return AssertionSuccess();
    }

    // Write-like: each mapped sector must now hold the new bytes. When the
    // request failed, sectors outside error targets may hold the new or the
    // old bytes; requests past the end change nothing.
    for (uint64_t s = sector; s < last; ++s) {
      const Place& p = layout_.places[s];
      if (p.dev < 0) continue;
      const Bytes now = devs_[p.dev]->Read(p.sector, 1);
      const uint8_t* new_data = data.data() + (s - sector) * kSectorSize;
      const bool is_new = std::memcmp(now.data(), new_data, kSectorSize) == 0;
      const bool is_old = std::memcmp(now.data(), Shadow(p.dev, p.sector), kSectorSize) == 0;
      const bool ok = !in_range ? is_old : status == 0 ? is_new : is_new || is_old;
      if (!ok) {
        return AssertionFailure() << what << ": table sector " << s
                                  << " was not written as it should be; " << Where(p);
      }
      std::memcpy(Shadow(p.dev, p.sector), now.data(), kSectorSize);
    }
    return AssertionSuccess();
  }

  // Every device holds exactly what the model says: nothing landed anywhere
  // the table does not map a written sector to.
  AssertionResult DevicesMatchShadow() {
    for (int d = 0; d < kDevices; ++d) {
      const Bytes got = devs_[d]->Read(0, kDevSectors);
      if (got == shadow_[d]) continue;
      uint64_t bad = 0;
      while (std::memcmp(got.data() + bad * kSectorSize, Shadow(d, bad), kSectorSize) == 0) ++bad;
      return AssertionFailure() << DevName(d) << " sector " << bad
                                << " holds bytes no request should have put there";
    }
    return AssertionSuccess();
  }

  // Every request completed exactly once, including the ones that failed.
  AssertionResult CompletedOnce() {
    for (size_t i = 0; i < ios_.size(); ++i) {
      if (ios_[i]->completions() != 1) {
        return AssertionFailure() << "request " << i << " completed " << ios_[i]->completions()
                                  << " times";
      }
    }
    ios_.clear();
    return AssertionSuccess();
  }

  void RunSeed(uint64_t seed) {
    rng_.seed(seed);
    for (int t = 0; t < kTablesPerSeed; ++t) {
      Layout l = RandomLayout(rng_);
      SCOPED_TRACE(fmt::format("seed {}, table {}:\n{}", seed, t, l.text));
      ASSERT_TRUE(UseLayout(std::move(l)));
      for (int i = 0; i < kRequestsPerTable; ++i) {
        ASSERT_TRUE(RandomRequest()) << "request " << i;
      }
      ASSERT_TRUE(CompletedOnce());
      ASSERT_TRUE(DevicesMatchShadow());
    }
  }

  uint8_t* Shadow(int d, uint64_t sector) {
    return shadow_[d].data() + sector * kSectorSize;
  }
  static std::string Where(const Place& p) {
    if (p.dev == kZero) return "it is in a zero target";
    if (p.dev == kError) return "it is in an error target";
    return fmt::format("it maps to {} sector {}", DevName(p.dev), p.sector);
  }

  static inline const Bytes kZeroSector = Bytes(kSectorSize, 0);

  std::mt19937_64 rng_;
  std::array<std::shared_ptr<MemoryBackend>, kDevices> devs_;
  std::array<Bytes, kDevices> shadow_;  // what each device must hold
  TestResolver resolver_;
  Layout layout_;
  std::vector<std::unique_ptr<TestIo>> ios_;  // this table's finished requests
  std::unique_ptr<MappedDevice> md_;          // last: goes before the devices
};

TEST_F(MappingTest, RandomTablesAgreeWithModelSeed1) { RunSeed(1); }
TEST_F(MappingTest, RandomTablesAgreeWithModelSeed2) { RunSeed(2); }
TEST_F(MappingTest, RandomTablesAgreeWithModelSeed3) { RunSeed(3); }
TEST_F(MappingTest, RandomTablesAgreeWithModelSeed4) { RunSeed(4); }

// Every sector of a request whose first sector is tagged `first`: sector i
// holds the 8-byte number first + i, repeated.
Bytes Tagged(uint64_t first, uint64_t sectors) {
  Bytes b(sectors * kSectorSize);
  for (uint64_t i = 0; i < sectors; ++i) {
    const uint64_t tag = first + i;
    for (uint64_t j = 0; j < kSectorSize; j += 8) std::memcpy(&b[i * kSectorSize + j], &tag, 8);
  }
  return b;
}

// Reloading a different layout over the same devices serves their data
// rearranged exactly as the new table says, at the new size.
TEST_F(MappingTest, ReloadServesTheSameDataThroughTheNewLayout) {
  md_ = MakeDevice("0 256 linear mem0 0\n256 256 linear mem1 0\n", resolver_);
  ASSERT_NE(md_, nullptr);
  auto write = TestIo::Make(Op::kWrite, 0, 512, 0);
  std::ranges::copy(Tagged(0, 512), write->data().begin());  // keeps the buffer
  md_->Submit(write->bio());
  ASSERT_TRUE(write->Wait());
  ASSERT_EQ(write->status(), 0);
  auto too_far = TestIo::Write(600, 1, 0x77);
  md_->Submit(too_far->bio());
  ASSERT_TRUE(too_far->Wait());
  EXPECT_EQ(too_far->status(), -EIO) << "the old table has only 512 sectors";

  // Chunks of 64 alternate between mem1 (the old sectors 256..511) and mem0
  // (the old sectors 0..255); 100 zero sectors follow.
  MappedDevice* md = md_.get();
  auto table = Table::FromText("0 512 striped 2 64 mem1 0 mem0 0\n512 100 zero\n",
                               BuiltinTargets(),
                               TableOptions{true, &resolver_, [md] { md->RaiseEvent(); }});
  ASSERT_TRUE(table.has_value()) << table.error().message;
  ASSERT_TRUE(md_->Load(std::move(*table)).has_value());
  ASSERT_TRUE(md_->Resume().has_value());
  EXPECT_EQ(md_->sectors(), 612u);

  auto read = TestIo::Read(0, 612);
  md_->Submit(read->bio());
  ASSERT_TRUE(read->Wait());
  ASSERT_EQ(read->status(), 0);
  const uint64_t old_first[8] = {256, 0, 320, 64, 384, 128, 448, 192};
  for (uint64_t chunk = 0; chunk < 8; ++chunk) {
    const Bytes want = Tagged(old_first[chunk], 64);
    EXPECT_TRUE(std::equal(want.begin(), want.end(),
                           read->data().begin() + chunk * 64 * kSectorSize))
        << "chunk " << chunk << " does not hold old sectors " << old_first[chunk] << "..";
  }
  EXPECT_TRUE(std::all_of(read->data().begin() + 512 * kSectorSize, read->data().end(),
                          [](uint8_t b) { return b == 0; }));

  // A write across the end of the striped target lands on mem0 where the
  // last chunk lives; the part in the zero target is dropped.
  auto across = TestIo::Make(Op::kWrite, 500, 20, 0);
  std::ranges::copy(Tagged(1000, 20), across->data().begin());
  md_->Submit(across->bio());
  ASSERT_TRUE(across->Wait());
  ASSERT_EQ(across->status(), 0);
  EXPECT_EQ(devs_[0]->Read(192 + 52, 12), Tagged(1000, 12));
  EXPECT_EQ(devs_[0]->Read(192 + 51, 1), Tagged(192 + 51, 1));
  EXPECT_EQ(devs_[1]->Read(192 + 52, 12), Tagged(256 + 192 + 52, 12));
  auto zeros = TestIo::Read(512, 8);
  md_->Submit(zeros->bio());
  ASSERT_TRUE(zeros->Wait());
  ASSERT_EQ(zeros->status(), 0);
  EXPECT_EQ(zeros->data(), Bytes(8 * kSectorSize, 0));

  for (TestIo* io : {write.get(), too_far.get(), read.get(), across.get(), zeros.get()}) {
    EXPECT_EQ(io->completions(), 1);
  }
}

// A request whose end lies past 2^64 sectors is past the end of any device:
// it must fail, not report success for I/O that never happened.
TEST_F(MappingTest, RequestWhoseEndWrapsPast64BitsFailsWithEio) {
  md_ = MakeDevice("0 1024 linear mem0 0\n", resolver_);
  ASSERT_NE(md_, nullptr);
  struct Case {
    Op op;
    uint64_t sector;
    uint64_t sectors;
  };
  const Case cases[] = {
      {Op::kWrite, UINT64_MAX, 1},          {Op::kRead, UINT64_MAX, 1},
      {Op::kWrite, UINT64_MAX - 7, 16},     {Op::kDiscard, UINT64_MAX - 7, 16},
      {Op::kWriteZeroes, UINT64_MAX - 1, 1026},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("{} of {} sectors at {}", OpName(c.op), c.sectors, c.sector));
    auto io = TestIo::Make(c.op, c.sector, c.sectors, 0);
    md_->Submit(io->bio());
    ASSERT_TRUE(io->Wait());
    EXPECT_EQ(io->status(), -EIO);
    EXPECT_EQ(io->completions(), 1);
  }
  EXPECT_TRUE(DevicesMatchShadow());
}

}  // namespace
}  // namespace udm::test
