// Reading udmsetup's table input and rewriting relative device paths.
#include "control/udmsetup_table.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "control/protocol.h"

namespace udm::daemon::udmsetup {

namespace {

Result<std::string> ReadAll(int fd, std::string_view what) {
  std::string text;
  char chunk[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError(errno, fmt::format("read {}", what));
    if (n == 0) return text;
    text.append(chunk, static_cast<size_t>(n));
    if (text.size() > kMaxFrameBytes) {
      return InvalidArgument("{}: table is larger than {} bytes", what, kMaxFrameBytes);
    }
  }
}

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return SysError(errno, fmt::format("table file {}", path));
  auto text = ReadAll(fd, path);
  ::close(fd);
  return text;
}

bool IsNumber(std::string_view field) {
  if (!field.empty() && (field[0] == '-' || field[0] == '+')) field.remove_prefix(1);
  if (field.empty()) return false;
  int dots = 0;
  for (char c : field) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots <= 1 && field != ".";
}

bool NamesDevice(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

// The absolute form of `field`, or nullopt when it stays as written.
std::optional<std::string> Absolutized(std::string_view field, const std::string& cwd) {
  if (field.starts_with('/') || field.starts_with("udm:")) return std::nullopt;
  std::string joined = cwd + "/" + std::string(field);
  bool explicit_relative = field.starts_with("./") || field.starts_with("../");
  if (!explicit_relative && (IsNumber(field) || !NamesDevice(joined))) return std::nullopt;
  return std::filesystem::path(joined).lexically_normal().string();
}

// One line with its device fields rewritten; unchanged if none is.
std::string RewriteLine(std::string_view line, const std::string& cwd) {
  std::vector<std::string> fields;
  size_t i = 0, comment = line.size();
  bool changed = false;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    if (i >= line.size()) break;
    if (line[i] == '#') {
      comment = i;
      break;
    }
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    std::string_view field = line.substr(i, j - i);
    auto absolute = fields.size() >= 3 ? Absolutized(field, cwd) : std::nullopt;
    changed = changed || absolute.has_value();
    fields.push_back(absolute ? *absolute : std::string(field));
    i = j;
  }
  if (!changed) return std::string(line);
  std::string out;
  for (const std::string& f : fields) out += (out.empty() ? "" : " ") + f;
  if (comment < line.size()) out += " " + std::string(line.substr(comment));
  return out;
}

}  // namespace

Result<std::optional<std::string>> ReadTableInput(const CliCommand& command, int stdin_fd) {
  const CliOptions& o = command.options;
  if (o.notable) return std::optional<std::string>();
  if (!o.tables.empty()) {
    std::string text;
    for (const std::string& t : o.tables) text += (text.empty() ? "" : "\n") + t;
    return std::optional<std::string>(std::move(text));
  }
  if (command.args.size() >= 2) {
    auto text = ReadFile(command.args[1]);
    if (!text) return std::unexpected(text.error());
    return std::optional<std::string>(std::move(*text));
  }
  if (::isatty(stdin_fd)) {
    if (command.verb == "load") {
      return InvalidArgument("load: no table given (use --table, a FILE argument or stdin)");
    }
    return std::optional<std::string>();
  }
  auto text = ReadAll(stdin_fd, "stdin");
  if (!text) return std::unexpected(text.error());
  if (text->find_first_not_of(" \t\r\n") == std::string::npos) {
    // Like dmsetup: an empty table on stdin creates a volume without one.
    if (command.verb == "load") return InvalidArgument("load: the table read from stdin is empty");
    return std::optional<std::string>();
  }
  return std::optional<std::string>(std::move(*text));
}

std::string AbsolutizeTablePaths(std::string_view table, const std::string& cwd) {
  std::string out;
  while (true) {
    size_t nl = table.find('\n');
    out += RewriteLine(table.substr(0, nl), cwd);
    if (nl == std::string_view::npos) break;
    out.push_back('\n');
    table.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace udm::daemon::udmsetup
