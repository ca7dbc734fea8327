// RunChecker: fork/exec /bin/sh -c with stdout and stderr on one pipe.
#include "checker.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace udm::crash {
namespace {

constexpr size_t kKeepOutput = 8192;

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

}  // namespace

Status ValidateCheckerCommand(const std::string& command) {
  if (command.find("{}") == std::string::npos) {
    return InvalidArgument("--fsck command '{}' has no {{}} for the state's file", command);
  }
  return {};
}

std::string ExpandCommand(const std::string& command, const std::string& path) {
  std::string out;
  for (size_t i = 0; i < command.size(); ++i) {
    if (command.compare(i, 2, "{}") == 0) {
      out += ShellQuote(path);
      ++i;
    } else {
      out += command[i];
    }
  }
  return out;
}

CheckerResult RunChecker(const std::string& command, const std::string& path) {
  CheckerResult r;
  const std::string line = ExpandCommand(command, path);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    r.output = "pipe failed";
    return r;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    r.output = "fork failed";
    return r;
  }
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r.output.append(buf, static_cast<size_t>(n));
    if (r.output.size() > 2 * kKeepOutput) r.output.erase(0, r.output.size() - kKeepOutput);
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (r.output.size() > kKeepOutput) r.output.erase(0, r.output.size() - kKeepOutput);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace udm::crash
