// Power cuts: random workloads over devices with volatile write caches,
// cut at a random point. After any completed flush or barrier nothing
// before it is lost, and in ordered mode nothing after a barrier is on the
// medium unless everything before it is.
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <random>

#include "support/power_cut_backend.h"
#include "support/test_env.h"
#include "support/test_io.h"
#include "support/test_resolver.h"
#include "udm/backends.h"

namespace udm::test {
namespace {

constexpr uint64_t kBlockSectors = 8;
constexpr uint64_t kDevSectors = 8192;
constexpr uint64_t kBlocks = 2 * kDevSectors / kBlockSectors;

struct Request {
  Bio bio;
  iovec iov{};
  std::vector<uint8_t> buf;
  bool is_write = false;
  bool ordered = false;  // an ordered barrier
  uint64_t block = 0;
  uint32_t id = 0;
  uint64_t submit_tick = 0;
  std::atomic<uint64_t> complete_tick{0};
  std::atomic<int> status{1};
};

class Workload {
 public:
  explicit Workload(MappedDevice* md) : md_(md) {}

  void Submit(std::unique_ptr<Request> r) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return in_flight_ < 32; });
      ++in_flight_;
    }
    r->bio.end_io = &Workload::EndIo;
    r->bio.private_data = this;
    r->submit_tick = ++clock_;
    Request* raw = r.get();
    requests_.push_back(std::move(r));
    md_->Submit(&raw->bio);
  }
  void WaitAll() {
    std::unique_lock<std::mutex> l(mu_);
    ASSERT_TRUE(cv_.wait_for(l, std::chrono::seconds(30), [&] { return in_flight_ == 0; }));
  }
  const std::vector<std::unique_ptr<Request>>& requests() const { return requests_; }

 private:
  static void EndIo(Bio* bio, int status) {
    auto* self = static_cast<Workload*>(bio->private_data);
    auto* r = reinterpret_cast<Request*>(bio);
    r->complete_tick = ++self->clock_;
    r->status = status;
    std::lock_guard<std::mutex> g(self->mu_);
    --self->in_flight_;
    self->cv_.notify_all();
  }

  MappedDevice* md_;
  std::atomic<uint64_t> clock_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;  // guarded by mu_
  std::vector<std::unique_ptr<Request>> requests_;
};
static_assert(offsetof(Request, bio) == 0);

std::unique_ptr<Request> MakeWrite(uint64_t block, uint32_t id, uint32_t flags) {
  auto r = std::make_unique<Request>();
  r->is_write = true;
  r->block = block;
  r->id = id;
  r->buf.resize(kBlockSectors << kSectorShift);
  for (size_t i = 0; i < r->buf.size(); i += 4) std::memcpy(&r->buf[i], &id, 4);
  r->iov = {r->buf.data(), r->buf.size()};
  r->bio.op = Op::kWrite;
  r->bio.flags = flags;
  r->bio.sector = block * kBlockSectors;
  r->bio.sectors = kBlockSectors;
  r->bio.iov = &r->iov;
  r->bio.iov_count = 1;
  return r;
}

struct Case {
  const char* table;
  BarrierMode mode;
};

class PowerCutTest : public ::testing::TestWithParam<std::tuple<int, int>> {};

constexpr int kSeeds = 8;  // seeds 1..kSeeds of every case

const Case kCases[] = {
    {"0 8192 linear p0 0\n8192 8192 linear p1 0", BarrierMode::kFlush},
    {"0 8192 linear p0 0\n8192 8192 linear p1 0", BarrierMode::kOrdered},
    {"0 16384 striped 2 16 p0 0 p1 0", BarrierMode::kFlush},
    {"0 16384 striped 2 16 p0 0 p1 0", BarrierMode::kOrdered},
};

TEST_P(PowerCutTest, NothingBeforeACompletedFlushOrBarrierIsLost) {
  const auto [case_index, seed] = GetParam();
  // UDM_POWER_CUT_SEEDS=n runs seeds 1..n of every case and skips the rest
  // (scripts/test.sh's TSan stage, where all of them take 140 s).
  const auto limit = EnvInt("UDM_POWER_CUT_SEEDS", kSeeds, 1, kSeeds);
  ASSERT_TRUE(limit) << limit.error();
  if (seed > *limit) GTEST_SKIP() << "UDM_POWER_CUT_SEEDS=" << *limit;
  const Case& c = kCases[case_index];
  std::mt19937 rng(static_cast<uint32_t>(seed));
  auto p0 = std::make_shared<PowerCutBackend>("p0", kDevSectors, rng());
  auto p1 = std::make_shared<PowerCutBackend>("p1", kDevSectors, rng());
  TestResolver resolver;
  resolver.Add(p0);
  resolver.Add(p1);
  auto md = MakeDevice(c.table, resolver, c.mode);
  ASSERT_NE(md, nullptr);

  std::vector<uint64_t> order(kBlocks);
  for (uint64_t i = 0; i < kBlocks; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  Workload work(md.get());
  const int ops = std::uniform_int_distribution<int>(200, 1500)(rng);
  size_t next_block = 0;
  for (int i = 0; i < ops && next_block < kBlocks; ++i) {
    const int dice = std::uniform_int_distribution<int>(0, 99)(rng);
    if (dice < 10) {
      auto f = std::make_unique<Request>();
      f->bio.op = Op::kFlush;
      f->ordered = c.mode == BarrierMode::kOrdered;
      work.Submit(std::move(f));
    } else {
      const uint32_t flags = dice < 15   ? uint32_t{kPreflush | kBarrier}
                             : dice < 17 ? uint32_t{kFua}
                                         : 0u;
      auto w = MakeWrite(order[next_block++], static_cast<uint32_t>(i + 1), flags);
      w->ordered = flags & kBarrier;
      work.Submit(std::move(w));
    }
  }
  auto images = PowerCutBackend::PowerCut({p0.get(), p1.get()}, rng);
  work.WaitAll();

  // What the volume reads after the power cut.
  auto m0 = std::make_shared<MemoryBackend>("p0", kDevSectors);
  auto m1 = std::make_shared<MemoryBackend>("p1", kDevSectors);
  m0->Write(0, images[0]);
  m1->Write(0, images[1]);
  TestResolver after;
  after.Add(m0);
  after.Add(m1);
  auto reread = MakeDevice(c.table, after);
  auto all = TestIo::Read(0, kBlocks * kBlockSectors);
  reread->Submit(all->bio());
  ASSERT_TRUE(all->Wait());
  auto present = [&](const Request& w) {
    for (size_t i = 0; i < kBlockSectors << kSectorShift; i += 4) {
      uint32_t v;
      std::memcpy(&v, &all->data()[w.block * (kBlockSectors << kSectorShift) + i], 4);
      if (v != w.id) return false;
    }
    return true;
  };

  const auto& reqs = work.requests();
  size_t checked = 0;
  for (const auto& f : reqs) {
    const bool flush_like = !f->is_write || (f->bio.flags & kPreflush);
    if (flush_like && f->status == 0) {
      // Writes completed before the flush was submitted are durable.
      for (const auto& w : reqs) {
        if (!w->is_write || w->status != 0 || w->complete_tick >= f->submit_tick) continue;
        ASSERT_TRUE(present(*w)) << "write " << w->id << " completed before flush/barrier "
                                 << f->submit_tick << " completed, yet it is lost";
        ++checked;
      }
      if (f->is_write) {
        ASSERT_TRUE(present(*f)) << "a completed barrier's payload is lost";
      }
    }
    if (!f->ordered) continue;
    // Ordered barrier: anything after it on the medium means everything
    // before it is too.
    const Request* later = nullptr;
    for (const auto& w : reqs) {
      if (w->is_write && w->submit_tick > f->submit_tick && present(*w)) {
        later = w.get();
        break;
      }
    }
    if (later == nullptr) continue;
    for (const auto& w : reqs) {
      if (!w->is_write || w->submit_tick > f->submit_tick) continue;
      ASSERT_TRUE(present(*w)) << "write " << w->id << " (submitted at " << w->submit_tick
                               << ", completed at " << w->complete_tick << " with " << w->status
                               << ") before barrier submitted at " << f->submit_tick
                               << " (completed at " << f->complete_tick << " with " << f->status
                               << ") is lost, but write " << later->id << " submitted at "
                               << later->submit_tick << " (completed at " << later->complete_tick
                               << " with " << later->status << ") survived";
    }
  }
  RecordProperty("checked", static_cast<int>(checked));
}

INSTANTIATE_TEST_SUITE_P(Seeds, PowerCutTest,
                         ::testing::Combine(::testing::Range(0, 4), ::testing::Range(1, kSeeds + 1)));

}  // namespace
}  // namespace udm::test
