// Engine benchmarks over null backends: 4 KiB requests per second through
// linear and striped, and what a flush or an ordered barrier costs with 0,
// 32 and 256 requests in flight ahead of it.
#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "udm/backends.h"
#include "udm/mapped_device.h"
#include "udm/table.h"
#include "udm/targets/builtin.h"

namespace udm {
namespace {

constexpr uint64_t kDevSectors = 1ull << 31;  // 1 TiB: null devices cost nothing

// A null device that holds requests until the benchmark releases them, so
// that requests are really in flight.
class HeldNullBackend : public BlockDevice {
 public:
  explicit HeldNullBackend(std::string name) : name_(std::move(name)) {}
  void Submit(Bio* bio) override {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (holding_) {
        held_.push_back(bio);
        return;
      }
    }
    bio->Complete(0);
  }
  // From now on requests complete at once (so the device can be torn down).
  void StopHolding() {
    std::lock_guard<std::mutex> g(mu_);
    holding_ = false;
  }
  uint64_t sectors() const override { return kDevSectors; }
  const std::string& name() const override { return name_; }
  size_t ReleaseAll() {
    std::vector<Bio*> now;
    {
      std::lock_guard<std::mutex> g(mu_);
      now.swap(held_);
    }
    for (Bio* b : now) b->Complete(0);
    return now.size();
  }

 private:
  const std::string name_;
  std::mutex mu_;
  bool holding_ = true;      // guarded by mu_
  std::vector<Bio*> held_;  // guarded by mu_
};

class MapResolver : public DeviceResolver {
 public:
  void Add(std::shared_ptr<BlockDevice> d) { devices_.push_back(std::move(d)); }
  Result<std::shared_ptr<BlockDevice>> Open(std::string_view spec, bool) override {
    for (auto& d : devices_) {
      if (d->name() == spec) return d;
    }
    return Fail(ErrorCode::kNotFound, ENOENT, "no device {}", spec);
  }

 private:
  std::vector<std::shared_ptr<BlockDevice>> devices_;
};

std::unique_ptr<MappedDevice> Build(const std::string& table, MapResolver& resolver,
                                    BarrierMode mode) {
  auto md = std::make_unique<MappedDevice>(MappedDeviceOptions{"bench", false, mode});
  TableOptions opts;
  opts.resolver = &resolver;
  auto t = Table::FromText(table, BuiltinTargets(), opts);
  if (!t || !md->Load(std::move(*t)) || !md->Resume()) std::abort();
  return md;
}

MappedDevice* NullDevice(bool striped) {
  static MapResolver resolver = [] {
    MapResolver r;
    r.Add(std::make_shared<NullBackend>("null0", kDevSectors));
    r.Add(std::make_shared<NullBackend>("null1", kDevSectors));
    return r;
  }();
  static auto linear = Build("0 2147483648 linear null0 0", resolver, BarrierMode::kFlush);
  static auto stripes =
      Build("0 4294967296 striped 2 128 null0 0 null1 0", resolver, BarrierMode::kFlush);
  return striped ? stripes.get() : linear.get();
}

void Count(Bio* bio, int) { ++*static_cast<uint64_t*>(bio->private_data); }

// A 4 KiB read into this thread's buffer that counts its completions in *done.
Bio Read4k(uint64_t* done) {
  alignas(4096) static thread_local uint8_t buf[4096];
  static thread_local iovec iov{buf, sizeof buf};
  Bio bio;
  bio.op = Op::kRead;
  bio.sectors = 8;
  bio.iov = &iov;
  bio.iov_count = 1;
  bio.end_io = Count;
  bio.private_data = done;
  return bio;
}

// 4 KiB reads through the engine; each thread keeps its own request.
void RunRequests(benchmark::State& state, bool striped) {
  MappedDevice* md = NullDevice(striped);
  uint64_t done = 0;
  Bio bio = Read4k(&done);
  uint64_t sector = static_cast<uint64_t>(state.thread_index()) << 24;
  for (auto _ : state) {
    bio.sector = sector;
    sector = (sector + 8) & ((1ull << 30) - 1);
    md->Submit(&bio);
  }
  if (done != static_cast<uint64_t>(state.iterations())) state.SkipWithError("lost completions");
  state.SetItemsProcessed(static_cast<int64_t>(done));
}

// Baseline: the same requests straight to a null device, no engine.
void BM_Null4k(benchmark::State& state) {
  static NullBackend null("null", kDevSectors);
  uint64_t done = 0;
  Bio bio = Read4k(&done);
  for (auto _ : state) {
    bio.sector = (bio.sector + 8) & ((1ull << 30) - 1);
    null.Submit(&bio);
    benchmark::DoNotOptimize(done);
  }
  state.SetItemsProcessed(static_cast<int64_t>(done));
}
BENCHMARK(BM_Null4k)->Name("NullBaseline/4k")->Threads(1)->UseRealTime();

void BM_Linear4k(benchmark::State& state) { RunRequests(state, false); }
void BM_Striped4k(benchmark::State& state) { RunRequests(state, true); }
BENCHMARK(BM_Linear4k)->Name("Linear/4k")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Striped4k)->Name("Striped/4k")->Threads(1)->Threads(2)->UseRealTime();

// One iteration: `state.range(0)` writes go in flight, then a flush (or an
// ordered barrier) is submitted, and the device completes everything.
void RunFlush(benchmark::State& state, BarrierMode mode) {
  MapResolver resolver;
  auto held = std::make_shared<HeldNullBackend>("held");
  resolver.Add(held);
  auto md = Build("0 2147483648 linear held 0", resolver, mode);
  const int inflight = static_cast<int>(state.range(0));
  alignas(4096) static uint8_t buf[4096];
  iovec iov{buf, sizeof buf};
  std::vector<Bio> writes(static_cast<size_t>(inflight));
  uint64_t done = 0;
  for (Bio& w : writes) {
    w.op = Op::kWrite;
    w.sectors = 8;
    w.iov = &iov;
    w.iov_count = 1;
    w.end_io = Count;
    w.private_data = &done;
  }
  std::atomic<bool> flushed{false};
  Bio flush;
  flush.op = Op::kFlush;
  flush.end_io = [](Bio* b, int) {
    static_cast<std::atomic<bool>*>(b->private_data)->store(true, std::memory_order_release);
  };
  flush.private_data = &flushed;
  for (auto _ : state) {
    for (int i = 0; i < inflight; ++i) {
      writes[i].sector = static_cast<uint64_t>(i) * 8;
      md->Submit(&writes[i]);
    }
    flushed.store(false, std::memory_order_relaxed);
    md->Submit(&flush);
    while (!flushed.load(std::memory_order_acquire)) {
      if (held->ReleaseAll() == 0) std::this_thread::yield();
    }
  }
  state.counters["inflight"] = inflight;
  held->StopHolding();
}

void BM_Flush(benchmark::State& state) { RunFlush(state, BarrierMode::kFlush); }
void BM_OrderedBarrier(benchmark::State& state) { RunFlush(state, BarrierMode::kOrdered); }
BENCHMARK(BM_Flush)->Name("Flush/inflight")->Arg(0)->Arg(32)->Arg(256)->UseRealTime();
BENCHMARK(BM_OrderedBarrier)->Name("OrderedBarrier/inflight")->Arg(0)->Arg(32)->Arg(256)->UseRealTime();

}  // namespace
}  // namespace udm

BENCHMARK_MAIN();
