// udm_ipc_floor: what the machine charges for a round trip between two
// processes, the part of every FUSE request that no FUSE server can avoid.
//
// A FUSE request takes its caller to the daemon and back: two switches
// between address spaces and at least one system call on each side. This
// measures, on one CPU:
//   - a system call that does nothing (getppid),
//   - one byte sent through a pipe to another process and back,
//   - the same between two threads of one process (no address-space switch).
// fuse_bench.py runs it once per repetition and prints the medians beside
// the udm_floor contender, so that a run says how much of the FUSE floor is
// the machine's.
//
// Usage: udm_ipc_floor [--cpu N] [--rounds N]; prints one JSON object.
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <expected>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBatches = 5;  // the result is the median batch

double MicrosPer(Clock::duration d, int n) {
  return std::chrono::duration<double, std::micro>(d).count() / n;
}

double MedianBatch(std::vector<double> batches) {
  std::nth_element(batches.begin(), batches.begin() + batches.size() / 2, batches.end());
  return batches[batches.size() / 2];
}

// The partner's side: echo `n` bytes from `in` to `out`.
bool Echo(int in, int out, int n) {
  char c;
  for (int i = 0; i < n; ++i) {
    if (read(in, &c, 1) != 1 || write(out, &c, 1) != 1) return false;
  }
  return true;
}

// Median microseconds per round trip over kBatches batches of `n`, with
// the partner in a child process or (threads) in a thread of this one.
std::expected<double, std::string> RoundTrip(bool threads, int n) {
  auto failed = [](const char* what) {
    return std::unexpected(std::string(what) + ": " + std::strerror(errno));
  };
  int ab[2], ba[2];
  if (pipe(ab) != 0) return failed("pipe");
  if (pipe(ba) != 0) return failed("pipe");
  const int total = n * kBatches + 1;  // one round to start the partner
  std::thread partner;
  pid_t child = -1;
  if (threads) {
    partner = std::thread([&] { Echo(ab[0], ba[1], total); });
  } else {
    child = fork();
    if (child < 0) return failed("fork");
    if (child == 0) {
      close(ab[1]);  // so that the parent's close is an EOF here
      close(ba[0]);
      _exit(Echo(ab[0], ba[1], total) ? 0 : 1);
    }
    close(ab[0]);  // so that the child's exit is an EOF here
    close(ba[1]);
  }
  std::string error;
  char c = 'x';
  auto round = [&] {
    if (!error.empty()) return;
    if (write(ab[1], &c, 1) != 1) {
      error = std::string("write: ") + std::strerror(errno);
      return;
    }
    const ssize_t r = read(ba[0], &c, 1);
    if (r == 0) error = "the partner is gone";
    if (r < 0) error = std::string("read: ") + std::strerror(errno);
  };
  round();
  std::vector<double> batches;
  for (int b = 0; b < kBatches && error.empty(); ++b) {
    const auto t0 = Clock::now();
    for (int i = 0; i < n && error.empty(); ++i) round();
    batches.push_back(MicrosPer(Clock::now() - t0, n));
  }
  close(ab[1]);  // a partner waiting in read gets EOF
  close(ba[0]);
  if (threads) {
    partner.join();
    close(ab[0]);
    close(ba[1]);
  } else {
    int status = 0;
    waitpid(child, &status, 0);
    if (error.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      error = "the partner process failed";
    }
  }
  if (!error.empty()) {
    return std::unexpected(std::string(threads ? "thread" : "process") + " partner: " + error);
  }
  return MedianBatch(std::move(batches));
}

double NullSyscall(int n) {
  std::vector<double> batches;
  for (int b = 0; b < kBatches; ++b) {
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) syscall(SYS_getppid);
    batches.push_back(MicrosPer(Clock::now() - t0, n));
  }
  return MedianBatch(std::move(batches));
}

bool ParseInt(std::string_view s, int min, int max, int* out) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int cpu = 0, rounds = 20000;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if ((a == "--cpu" || a == "--rounds") && i + 1 == argc) {
      std::fprintf(stderr, "udm_ipc_floor: %s needs a value\n", argv[i]);
      return 2;
    }
    if (a == "--cpu") {
      if (!ParseInt(argv[++i], 0, CPU_SETSIZE - 1, &cpu)) {
        std::fprintf(stderr, "udm_ipc_floor: --cpu must be a CPU number, not '%s'\n", argv[i]);
        return 2;
      }
    } else if (a == "--rounds") {
      if (!ParseInt(argv[++i], 100, 10'000'000, &rounds)) {
        std::fprintf(stderr, "udm_ipc_floor: --rounds must be a number from 100 to 10000000, "
                             "not '%s'\n", argv[i]);
        return 2;
      }
    } else {
      std::fprintf(stderr, "udm_ipc_floor: unknown argument '%s' "
                           "(usage: udm_ipc_floor [--cpu N] [--rounds N])\n", argv[i]);
      return 2;
    }
  }
  // A write to a partner that is gone fails with EPIPE instead of killing us.
  signal(SIGPIPE, SIG_IGN);
  // Both sides on one CPU: every round trip is two switches, never an
  // interrupt to another CPU. The child and the thread inherit the mask.
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    std::fprintf(stderr, "udm_ipc_floor: cannot run on CPU %d: %s\n", cpu, std::strerror(errno));
    return 1;
  }
  const double syscall_us = NullSyscall(rounds);
  const auto process_us = RoundTrip(false, rounds);
  const auto thread_us = RoundTrip(true, rounds);
  for (const auto* r : {&process_us, &thread_us}) {
    if (!*r) {
      std::fprintf(stderr, "udm_ipc_floor: pipe round trip: %s\n", r->error().c_str());
      return 1;
    }
  }
  std::printf("{\"cpu\": %d, \"rounds\": %d, \"syscall_us\": %.3f, "
              "\"process_round_trip_us\": %.3f, \"thread_round_trip_us\": %.3f}\n",
              cpu, rounds, syscall_us, *process_us, *thread_us);
  return 0;
}
