// udmsetup's verbs and options: one table of verbs (arity, allowed
// options, synopsis), one of options, and the checks that run before
// anything is sent to udmd.
#include "control/udmsetup_args.h"

#include <charconv>

#include "control/protocol.h"

namespace udm::daemon::udmsetup {

namespace {

enum OptionBit : unsigned {
  kGlobal = 0,  // allowed with every verb
  kTable = 1u << 0,
  kNotable = 1u << 1,
  kReadonly = 1u << 2,
  kUuid = 1u << 3,
  kBarriers = 1u << 4,
  kNoflush = 1u << 5,
  kForce = 1u << 6,
  kInactive = 1u << 7,
  kTarget = 1u << 8,
  kLimit = 1u << 9,
  kNolockfs = 1u << 10,
};

struct OptionSpec {
  std::string_view name;
  char short_name;  // '\0' when there is none
  bool takes_value;
  unsigned bit;
};

constexpr OptionSpec kOptions[] = {
    {"socket", '\0', true, kGlobal},   {"json", '\0', false, kGlobal},
    {"help", 'h', false, kGlobal},     {"table", '\0', true, kTable},
    {"notable", 'n', false, kNotable}, {"readonly", 'r', false, kReadonly},
    {"uuid", 'u', true, kUuid},        {"barriers", '\0', true, kBarriers},
    {"noflush", '\0', false, kNoflush}, {"force", 'f', false, kForce},
    {"inactive", '\0', false, kInactive}, {"target", '\0', true, kTarget},
    {"limit", '\0', true, kLimit},
    // dmsetup freezes a filesystem mounted on the device unless told not to;
    // udm never sees the filesystem on its files, so this is always so
    // (accepted for scripts such as xfstests' common/dmflakey).
    {"nolockfs", '\0', false, kNolockfs},
};

constexpr int kMany = 1 << 20;

struct VerbSpec {
  std::string_view name;
  int min_args, max_args;
  unsigned options;
  std::string_view synopsis;
};

constexpr VerbSpec kVerbs[] = {
    {"create", 1, 2, kTable | kNotable | kReadonly | kUuid | kBarriers,
     "create NAME [--table LINE]... [FILE] [-n|--notable] [-r|--readonly] [-u|--uuid U]\n"
     "         [--barriers flush|ordered]"},
    {"load", 1, 2, kTable, "load|reload NAME [--table LINE]... [FILE]"},
    {"clear", 1, 1, 0, "clear NAME"},
    {"suspend", 1, 1, kNoflush | kNolockfs, "suspend [--noflush] [--nolockfs] NAME"},
    {"resume", 1, 1, 0, "resume NAME"},
    {"remove", 1, 1, kForce, "remove [-f|--force] NAME"},
    {"rename", 2, 2, 0, "rename OLD NEW"},
    {"table", 1, 1, kTarget | kInactive, "table [--target T] [--inactive] NAME"},
    {"status", 1, 1, kTarget | kInactive, "status [--target T] [--inactive] NAME"},
    {"info", 0, 1, 0, "info [NAME]"},
    {"ls", 0, 0, 0, "ls"},
    {"deps", 1, 1, 0, "deps NAME"},
    {"message", 3, kMany, 0, "message NAME SECTOR MSG..."},
    {"targets", 0, 0, 0, "targets"},
    {"version", 0, 0, 0, "version"},
    {"wait", 1, 2, 0, "wait NAME [EVENT_NR]"},
    {"stats", 1, 1, 0, "stats NAME"},
    {"events", 1, 1, kLimit, "events [--limit N] NAME"},
    {"help", 0, 0, 0, "help"},
};

const VerbSpec* FindVerb(std::string_view name) {
  if (name == "reload") name = "load";
  for (const VerbSpec& v : kVerbs) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

const OptionSpec* FindLongOption(std::string_view name) {
  for (const OptionSpec& o : kOptions) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

const OptionSpec* FindShortOption(char c) {
  for (const OptionSpec& o : kOptions) {
    if (o.short_name == c) return &o;
  }
  return nullptr;
}

Result<uint64_t> ParseUnsigned(std::string_view text, std::string_view what) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) {
    return InvalidArgument("{} {} is not an unsigned decimal number", what, QuoteForMessage(text));
  }
  return v;
}

Status IsUnsigned(std::string_view text, std::string_view what) {
  auto v = ParseUnsigned(text, what);
  if (!v) return std::unexpected(v.error());
  return {};
}

// Stores one option's value in `options`.
Status Apply(const OptionSpec& spec, std::string value, CliOptions& options) {
  std::string_view n = spec.name;
  if (n == "socket") options.socket = std::move(value);
  else if (n == "json") options.json = true;
  else if (n == "help") options.help = true;
  else if (n == "table") options.tables.push_back(std::move(value));
  else if (n == "notable") options.notable = true;
  else if (n == "readonly") options.readonly = true;
  else if (n == "uuid") options.uuid = std::move(value);
  else if (n == "barriers") options.barriers = std::move(value);
  else if (n == "noflush") options.noflush = true;
  else if (n == "force") options.force = true;
  else if (n == "inactive") options.inactive = true;
  else if (n == "target") options.target = std::move(value);
  else if (n == "limit") {
    auto limit = ParseUnsigned(value, "--limit");
    if (!limit) return std::unexpected(limit.error());
    options.limit = *limit;
  }
  return {};
}

// Splits argv into options (applied to `options`) and positional words.
struct Scan {
  std::vector<std::string> words;
  unsigned used = 0;  // OptionBits of the options given
};

Result<Scan> ScanArgs(std::span<const std::string> argv, CliOptions& options) {
  Scan scan;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "--") {
      scan.words.insert(scan.words.end(), argv.begin() + i + 1, argv.end());
      break;
    }
    const OptionSpec* spec = nullptr;
    std::optional<std::string> value;
    if (arg.starts_with("--")) {
      std::string_view body = std::string_view(arg).substr(2);
      size_t eq = body.find('=');
      if (eq != std::string_view::npos) value = std::string(body.substr(eq + 1));
      spec = FindLongOption(body.substr(0, eq));
    } else if (arg.size() == 2 && arg[0] == '-' && arg[1] != '-') {
      spec = FindShortOption(arg[1]);
    } else {
      scan.words.push_back(arg);
      continue;
    }
    if (spec == nullptr) {
      if (arg == "--version") {
        scan.words.insert(scan.words.begin(), "version");
        continue;
      }
      return InvalidArgument("unknown option {}", QuoteForMessage(arg));
    }
    if (spec->takes_value && !value) {
      if (i + 1 >= argv.size()) return InvalidArgument("option '--{}' needs a value", spec->name);
      value = argv[++i];
    } else if (!spec->takes_value && value) {
      return InvalidArgument("option '--{}' takes no value", spec->name);
    }
    if (Status ok = Apply(*spec, value.value_or(""), options); !ok) return std::unexpected(ok.error());
    scan.used |= spec->bit;
  }
  return scan;
}

std::string_view OptionNameOf(unsigned bit) {
  for (const OptionSpec& o : kOptions) {
    if (o.bit == bit) return o.name;
  }
  return "?";
}

// Checks names, numbers and option values once the verb is known.
Status CheckValues(const CliCommand& c) {
  const auto& a = c.args;
  bool named = c.verb != "ls" && c.verb != "targets" && c.verb != "version" && c.verb != "help";
  if (named && !a.empty()) {
    if (Status ok = ValidateVolumeName(a[0]); !ok) return ok;
  }
  if (c.verb == "rename") return ValidateVolumeName(a[1]);
  if (c.verb == "message") return IsUnsigned(a[1], "sector");
  if (c.verb == "wait" && a.size() == 2) return IsUnsigned(a[1], "event number");
  const CliOptions& o = c.options;
  if (o.barriers && *o.barriers != "flush" && *o.barriers != "ordered") {
    return InvalidArgument("--barriers must be 'flush' or 'ordered', not {}", QuoteForMessage(*o.barriers));
  }
  if (o.uuid && o.uuid->empty()) return InvalidArgument("--uuid is empty");
  if (o.limit && *o.limit == 0) return InvalidArgument("--limit must be greater than 0");
  if (o.notable && !o.tables.empty()) return InvalidArgument("--notable and --table exclude each other");
  if (!o.tables.empty() && a.size() > 1) {
    return InvalidArgument("{}: give the table with --table or as FILE, not both", c.verb);
  }
  return {};
}

}  // namespace

Result<CliCommand> ParseCommandLine(std::span<const std::string> argv) {
  CliCommand command;
  auto scan = ScanArgs(argv, command.options);
  if (!scan) return std::unexpected(scan.error());
  if (scan->words.empty()) {
    if (command.options.help) return CliCommand{"help", {}, command.options};
    return InvalidArgument("no verb given (see 'udmsetup help')");
  }
  const VerbSpec* verb = FindVerb(scan->words.front());
  if (verb == nullptr) {
    return InvalidArgument("unknown verb {} (see 'udmsetup help')", QuoteForMessage(scan->words.front()));
  }
  command.verb = std::string(verb->name);
  if (command.options.help) command.verb = "help";
  command.args.assign(scan->words.begin() + 1, scan->words.end());
  if (command.verb == "help") return command;
  unsigned stray = scan->used & ~verb->options;
  if (stray != 0) {
    return InvalidArgument("option '--{}' does not apply to '{}'", OptionNameOf(stray & -stray), verb->name);
  }
  int n = static_cast<int>(command.args.size());
  if (n < verb->min_args) return InvalidArgument("{}: missing arguments (usage: udmsetup {})", verb->name, verb->synopsis);
  if (n > verb->max_args) {
    return InvalidArgument("{}: unexpected argument {} (usage: udmsetup {})", verb->name,
                           QuoteForMessage(command.args[verb->max_args]), verb->synopsis);
  }
  if (Status ok = CheckValues(command); !ok) return std::unexpected(ok.error());
  return command;
}

std::string UsageText() {
  std::string text =
      "Usage: udmsetup [--socket PATH] [--json] VERB [ARGS...]\n\n"
      "Verbs:\n";
  for (const VerbSpec& v : kVerbs) text += fmt::format("  {}\n", v.synopsis);
  text +=
      "\nTables are dmsetup tables (<start> <length> <target> <args...>, 512-byte sectors),\n"
      "given with --table (repeatable), as FILE, or on stdin. Relative device paths are\n"
      "made absolute against the current directory.\n"
      "The socket is --socket, else $UDM_SOCKET, else $XDG_STATE_HOME/udm/udm.sock,\n"
      "else ~/.local/state/udm/udm.sock; when that does not exist, the system udmd's\n"
      "/run/udm/udm.sock. --json prints the daemon's result as JSON.\n"
      "Exit status: 0 success, 1 failure, 2 bad command line.\n";
  return text;
}

}  // namespace udm::daemon::udmsetup
