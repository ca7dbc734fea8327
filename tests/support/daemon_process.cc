#include "support/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

namespace udm::test {

DaemonProcess::DaemonProcess(std::string dir, DaemonPaths paths)
    : dir_(std::move(dir)), paths_(std::move(paths)) {}

DaemonProcess::~DaemonProcess() { Stop(SIGTERM); }

std::string DaemonProcess::log() const {
  std::ifstream in(dir_ + "/udmd.log");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool DaemonProcess::Start(const std::vector<std::string>& extra_args) {
  std::vector<std::string> args = {"udmd",          "--foreground", "--state-dir",
                                    state(),        "--mount",      mount()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = fork();
  if (pid_ == 0) {
    const int fd = open((dir_ + "/udmd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 2);
    dup2(fd, 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(paths_.udmd.c_str(), argv.data());
    _exit(127);
  }
  for (int i = 0; i < 200; ++i) {  // until the socket answers
    if (Udm({"version"}, "", 5).ok()) return true;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool DaemonProcess::Stop(int sig) {
  if (pid_ <= 0) return true;
  kill(pid_, sig);
  int status = 0;
  for (int i = 0; i < 3000; ++i) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return false;
}

CommandResult DaemonProcess::Udm(std::vector<std::string> args, const std::string& input,
                                 int timeout_s) const {
  args.insert(args.begin(), {paths_.udmsetup, "--socket", socket()});
  return RunCommand(args, input, timeout_s);
}

nlohmann::json DaemonProcess::UdmJson(std::vector<std::string> args) const {
  args.insert(args.begin(), "--json");
  auto r = Udm(std::move(args));
  if (!r.ok()) return nullptr;
  return nlohmann::json::parse(r.out, nullptr, false);
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = "/var/tmp/" + prefix + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

void MakeSparseFile(const std::string& path, uint64_t bytes) {
  std::ofstream(path, std::ios::trunc).close();
  std::filesystem::resize_file(path, bytes);
}

std::vector<uint8_t> ReadFileRange(const std::string& path, uint64_t off, size_t len) {
  std::vector<uint8_t> buf(len);
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return {};
  const ssize_t n = pread(fd, buf.data(), len, static_cast<off_t>(off));
  close(fd);
  buf.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return buf;
}

std::string AttachLoop(const std::string& file, bool direct_io) {
  auto r = RunCommand({"losetup", "-f", "--show", direct_io ? "--direct-io=on" : "--direct-io=off", file});
  if (!r.ok()) return "";
  return r.out.substr(0, r.out.find('\n'));
}

}  // namespace udm::test
