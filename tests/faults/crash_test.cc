// kill -9 of udmd while writers fsync through its volume files, again and
// again: after each restart every volume is back, and every write that a
// completed fdatasync acknowledged is on disk. Writes not yet acknowledged
// may or may not have landed; only they may read back as anything else.
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include <fmt/core.h>

#include "faults/fault_support.h"

namespace udm::test {
namespace {

using nlohmann::json;

constexpr uint64_t kBlocks = 2048;  // 8 MiB per volume
constexpr int kVolumes = 3;
constexpr int kRounds = 5;

// What one writer knows about its volume's blocks. Written only by the
// writer thread, read by the test once the writer has stopped.
struct WriteLog {
  std::vector<uint64_t> acked = std::vector<uint64_t>(kBlocks, 0);      // version made durable
  std::vector<uint64_t> attempted = std::vector<uint64_t>(kBlocks, 0);  // newest version sent
  uint64_t next_version = 1;
  uint64_t acked_syncs = 0;  // fdatasyncs that completed, over all rounds
};

// Writes batches of 1-8 random blocks, each batch followed by fdatasync,
// until an error (the daemon died) or `stop`. Only after fdatasync returns 0
// are the batch's versions recorded as acknowledged.
void WriteUntilError(const std::string& path, bool direct, uint32_t id, WriteLog& log,
                     const std::atomic<bool>& stop, uint64_t seed) {
  BlockFile f(path, direct);
  if (!f.ok()) return;
  std::mt19937_64 rng(seed);
  std::vector<std::pair<uint64_t, uint64_t>> batch;
  while (!stop.load()) {
    batch.clear();
    const int n = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) {
      const uint64_t block = rng() % kBlocks;
      const uint64_t version = log.next_version++;
      log.attempted[block] = version;
      if (f.Write(id, block, version) != 0) return;
      batch.emplace_back(block, version);
    }
    if (f.Sync() != 0) return;
    for (const auto& [block, version] : batch) log.acked[block] = version;
    ++log.acked_syncs;
  }
}

class CrashTest : public FaultsFixture {};

TEST_F(CrashTest, KillNineDuringFsyncedWritesLosesNoAcknowledgedWrite) {
  // Three shapes of table: one file, two linear pieces, two stripes.
  std::vector<std::string> tables;
  const std::string a = Backing("a.img", kBlocks * kBlock), b = Backing("b.img", kBlocks * kBlock);
  const std::string c = Backing("c.img", kBlocks * kBlock / 2), d = Backing("d.img", kBlocks * kBlock / 2);
  const uint64_t sectors = kBlocks * kBlock / 512;
  tables.push_back(fmt::format("0 {} linear {} 0", sectors, a));
  tables.push_back(fmt::format("0 {} linear {} {}\n{} {} linear {} 0", sectors / 2, b, sectors / 2,
                               sectors / 2, sectors / 2, b));
  tables.push_back(fmt::format("0 {} striped 2 128 {} 0 {} 0", sectors, c, d));
  for (int v = 0; v < kVolumes; ++v) {
    auto r = Udm({"create", fmt::format("v{}", v), "--table", tables[v]});
    ASSERT_TRUE(r.ok()) << r.err;
  }

  std::vector<WriteLog> logs(kVolumes);
  std::mt19937 rng(7);
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(fmt::format("round {}", round));
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int v = 0; v < kVolumes; ++v) {
      // Volume 1 is written through the page cache, the others with O_DIRECT.
      writers.emplace_back(WriteUntilError, Vol(fmt::format("v{}", v)), v != 1, v, std::ref(logs[v]),
                           std::cref(stop), rng());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500 + rng() % 1500));
    EXPECT_FALSE(daemon_->Stop(SIGKILL));
    stop = true;
    for (auto& t : writers) t.join();

    ASSERT_TRUE(daemon_->Start()) << daemon_->log();
    json all = daemon_->UdmJson({"info"});
    ASSERT_TRUE(all.is_array()) << all.dump();
    ASSERT_EQ(all.size(), static_cast<size_t>(kVolumes)) << all.dump();
    for (int v = 0; v < kVolumes; ++v) {
      const std::string name = fmt::format("v{}", v);
      json info = Info(name);
      EXPECT_EQ(info["state"], "ACTIVE") << info.dump();
      EXPECT_EQ(info["live_table"], true) << info.dump();
      EXPECT_FALSE(info.contains("restore_error")) << info.dump();
      EXPECT_EQ(Udm({"table", name}).out, tables[v] + "\n");

      BlockFile f(Vol(name));
      ASSERT_TRUE(f.ok()) << name;
      WriteLog& log = logs[v];
      uint64_t checked = 0;
      for (uint64_t block = 0; block < kBlocks; ++block) {
        const uint64_t acked = log.acked[block], attempted = log.attempted[block];
        std::vector<uint8_t> data;
        ASSERT_EQ(f.Read(block, &data), 0) << name << " block " << block;
        const auto got = BlockVersion(data.data(), v, block);
        if (attempted == acked) {  // nothing in flight: exactly the acknowledged version
          EXPECT_EQ(got, std::optional<uint64_t>(acked)) << name << " block " << block;
          checked += acked != 0;
        } else {
          // In flight at the kill: the durable version or a newer one (or a
          // torn block). Rewrite it so that the next round knows it exactly.
          if (got) {
            EXPECT_GE(*got, acked) << name << " block " << block << " lost an acknowledged write";
          }
          if (got != std::optional<uint64_t>(acked)) {
            const uint64_t version = log.next_version++;
            ASSERT_EQ(f.Write(v, block, version), 0);
            log.acked[block] = version;
          }
          log.attempted[block] = log.acked[block];
        }
      }
      ASSERT_EQ(f.Sync(), 0);
      EXPECT_GT(checked, 0u) << name;
    }
  }
  for (int v = 0; v < kVolumes; ++v) {
    EXPECT_GT(logs[v].acked_syncs, static_cast<uint64_t>(kRounds)) << "v" << v << " made no progress";
    RecordProperty(fmt::format("v{}_acked_syncs", v), static_cast<int>(logs[v].acked_syncs));
    std::printf("crash: v%d: %llu acknowledged fdatasyncs over %d kills\n", v,
                static_cast<unsigned long long>(logs[v].acked_syncs), kRounds);
  }
}

}  // namespace
}  // namespace udm::test
