// The real dashboard against the real daemon: udmd with a busy volume, a
// suspended volume, and a volume whose flush is held in flight by the
// suspended volume under it; udm-dashboard runs under xvfb-run with
// --screenshot and --dump-models, and the test reads what its models showed.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include <fmt/core.h>

#include "support/command.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"

namespace udm::test {
namespace {

using nlohmann::json;

constexpr uint64_t kFileBytes = 16ull << 20;
constexpr uint64_t kSectors = kFileBytes / 512;

json FindVolume(const json& volumes, const std::string& name) {
  for (const auto& v : volumes) {
    if (v.value("name", "") == name) return v;
  }
  return json();
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class DashboardE2eTest : public DaemonFixture {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartDaemon("udm-dashboard")); }
  void Create(const std::string& name, const std::string& table, const std::string& barriers) {
    auto r = daemon_->Udm({"create", name, "--table", table, "--barriers", barriers});
    ASSERT_TRUE(r.ok()) << r.err;
  }
};

TEST_F(DashboardE2eTest, ShowsSuspendedVolumesAndAFlushHeldInFlight) {
  ASSERT_TRUE(RunShell("command -v xvfb-run").ok()) << "xvfb-run is missing (apt install xvfb xauth)";
  for (const char* f : {"/a.img", "/b.img"}) MakeSparseFile(dir_ + f, kFileBytes);
  ASSERT_NO_FATAL_FAILURE(Create("base", fmt::format("0 {} linear {}/a.img 0", kSectors, dir_), "flush"));
  ASSERT_NO_FATAL_FAILURE(Create("top", fmt::format("0 {} linear udm:base 0", kSectors), "flush"));
  ASSERT_NO_FATAL_FAILURE(Create("busy", fmt::format("0 {} linear {}/b.img 0", kSectors, dir_), "ordered"));

  // Traffic on `busy` through its FUSE file for the whole run.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    int fd = ::open(daemon_->volume("busy").c_str(), O_RDWR);
    if (fd < 0) return;
    std::vector<char> block(4096, 'b');
    for (uint64_t i = 0; !stop.load(); ++i) {
      if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>((i % 1024) * 4096)) < 0) break;
      if (i % 8 == 7) ::fsync(fd);
    }
    ::close(fd);
  });

  // `top` has written and synced data; with `base` suspended its next
  // flush reaches base and waits there, in flight on top.
  int top_fd = ::open(daemon_->volume("top").c_str(), O_RDWR);
  ASSERT_GE(top_fd, 0);
  std::vector<char> data(4096, 't');
  ASSERT_EQ(::pwrite(top_fd, data.data(), data.size(), 0), 4096);
  ASSERT_EQ(::fsync(top_fd), 0);
  ASSERT_TRUE(daemon_->Udm({"suspend", "base"}).ok());
  std::future<int> held = std::async(std::launch::async, [top_fd] { return ::fsync(top_fd); });
  // Whatever happens below, resume base so the fsync and the writer finish.
  struct Release {
    std::function<void()> fn;
    ~Release() { fn(); }
  } release{[&] {
    daemon_->Udm({"resume", "base"});
    stop = true;
    writer.join();
  }};
  bool in_flight = false;
  for (int i = 0; i < 200 && !in_flight; ++i) {
    json s = daemon_->UdmJson({"stats", "top"});
    in_flight = s.is_object() && !s.value("inflight_barriers", json::array()).empty();
    if (!in_flight) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(in_flight) << "top's flush never showed up in flight";

  // Under ASan, libdbus's allocations still held at exit are not ours.
  ::setenv("LSAN_OPTIONS", "suppressions=" DASHBOARD_LSAN_SUPP, 0);
  const std::string png = dir_ + "/out.png", models = dir_ + "/models.json";
  CommandResult run = RunCommand({"xvfb-run", "-a", DASHBOARD_PATH, "--socket", daemon_->socket(),
                                  "--screenshot", png, "--after", "3", "--dump-models", models,
                                  "--select", "top"},
                                 "", 120);
  ASSERT_TRUE(run.ok()) << "exit " << run.exit_code << ": " << run.err;

  json m = json::parse(ReadAll(models), nullptr, false);
  ASSERT_TRUE(m.is_object()) << ReadAll(models);
  EXPECT_EQ(m["connection"], "connected");
  const json base = FindVolume(m["volumes"], "base");
  const json top = FindVolume(m["volumes"], "top");
  const json busy = FindVolume(m["volumes"], "busy");
  ASSERT_TRUE(base.is_object() && top.is_object() && busy.is_object()) << m.dump(2);
  EXPECT_EQ(base["state"], "SUSPENDED");
  EXPECT_EQ(top["state"], "ACTIVE");
  EXPECT_EQ(busy["state"], "ACTIVE");
  EXPECT_EQ(busy["barriers"], "ordered");
  EXPECT_GT(busy["writes"].get<int64_t>(), 0);
  EXPECT_GE(top["barriers_in_flight"].get<int64_t>(), 1);

  const json& details = m["details"];
  ASSERT_EQ(details.value("name", ""), "top") << m.dump(2);
  ASSERT_FALSE(details["inflight_barriers"].empty()) << m.dump(2);
  const json& barrier = details["inflight_barriers"][0];
  EXPECT_FALSE(barrier["phase"].get<std::string>().empty());
  // Held since before the dashboard started, which ran for 3 s.
  EXPECT_GE(barrier["age_us"].get<int64_t>(), 2'500'000) << barrier.dump();
  // A flush-mode flush holds nothing back: the daemon's count, not a guess.
  EXPECT_EQ(barrier["waiters"], 0) << barrier.dump();
  EXPECT_EQ(details["live_table"], json::array({fmt::format("0 {} linear udm:base 0", kSectors)}));
  EXPECT_FALSE(details["status"].empty());
  EXPECT_GT(details["history_points"].get<int>(), 5);

  const std::string image = ReadAll(png);
  ASSERT_GE(image.size(), 24u) << "no PNG written";
  EXPECT_EQ(image.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(image.substr(12, 4), "IHDR");
  auto be32 = [&](size_t at) {
    return (uint32_t{static_cast<uint8_t>(image[at])} << 24) |
           (uint32_t{static_cast<uint8_t>(image[at + 1])} << 16) |
           (uint32_t{static_cast<uint8_t>(image[at + 2])} << 8) | static_cast<uint8_t>(image[at + 3]);
  };
  EXPECT_GE(be32(16), 800u);  // width
  EXPECT_GE(be32(20), 500u);  // height

  // Resuming base lets the held flush complete successfully.
  ASSERT_TRUE(daemon_->Udm({"resume", "base"}).ok());
  ASSERT_EQ(held.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(held.get(), 0);
  ::close(top_fd);
}

}  // namespace
}  // namespace udm::test
