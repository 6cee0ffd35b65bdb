#include "coordinator/cli.h"

#include <set>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fourtuple::coordinator {
namespace {

struct CommandSpec {
  const char* name;
  std::set<std::string> value_flags;
  std::set<std::string> switches;
  std::set<std::string> required;
  std::vector<std::string> operands = {};  // names of the files it takes, in order: {"A.json", "B.json"}
};

// Every command talks to agents (and run to TargetControl) with these.
constexpr const char* kAuth[] = {"token-file", "tls-cert", "tls-key", "tls-ca"};

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec>* commands = new std::vector<CommandSpec>{
      {"run",
       {"plan", "report", "html", "run-id", kAuth[0], kAuth[1], kAuth[2], kAuth[3]},
       {"force"},
       {"plan"}},
      {"preflight", {"plan", kAuth[0], kAuth[1], kAuth[2], kAuth[3]}, {}, {"plan"}},
      {"probe", {"agents", kAuth[0], kAuth[1], kAuth[2], kAuth[3]}, {}, {"agents"}},
      {"report", {"html"}, {}, {}, {"FILE.json"}},
      {"compare", {}, {}, {}, {"A.json", "B.json"}},
  };
  return *commands;
}

}  // namespace

std::string Usage() {
  return "usage:\n"
         "  coordinator run --plan=FILE [--report=FILE.json] [--html=FILE.html] [--run-id=ID]\n"
         "                  [--force]\n"
         "      run the plan: assign, connect, hold with echo checks, close, report\n"
         "      (--force: run even when preflight finds a share over an agent's capacity)\n"
         "  coordinator preflight --plan=FILE\n"
         "      probe the plan's agents and print their capacity\n"
         "  coordinator probe --agents=HOST:PORT[,HOST:PORT...]\n"
         "      print each agent's host facts\n"
         "  coordinator report FILE.json [--html=FILE.html]\n"
         "      print a saved report's summary (and render it as the HTML page)\n"
         "  coordinator compare A.json B.json\n"
         "      two saved reports side by side, with B/A ratios\n"
         "run, preflight and probe also take --token-file=PATH (the agents' shared secret) and\n"
         "--tls-ca=PEM [--tls-cert=PEM --tls-key=PEM] (TLS, with a client certificate for mTLS)\n"
         "exit codes: 0 run passed, 1 run finished but did not pass, 2 bad command line or\n"
         "plan or report file, 3 preflight failed or an agent unreachable before start\n";
}

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  if (args.empty()) return absl::InvalidArgumentError("no command given");
  CommandLine out;
  out.command = args[0];
  if (out.command == "help" || out.command == "--help" || out.command == "-h") {
    out.command = "help";
    return out;
  }
  const CommandSpec* spec = nullptr;
  for (const CommandSpec& candidate : Commands()) {
    if (out.command == candidate.name) spec = &candidate;
  }
  if (spec == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown command \"", out.command, "\""));
  }
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      out.command = "help";
      return out;
    }
    if (!absl::StartsWith(arg, "--") && out.files.size() < spec->operands.size()) {
      out.files.push_back(arg);
      continue;
    }
    if (!absl::StartsWith(arg, "--") || arg.size() == 2) {
      return absl::InvalidArgumentError(absl::StrCat(spec->name, ": unexpected argument \"", arg, "\""));
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    if (spec->switches.contains(name)) {
      if (has_value && value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " takes no value (or true/false), got \"", value, "\""));
      }
      if (!has_value || value == "true") out.flags[name] = "true";
      continue;
    }
    if (!spec->value_flags.contains(name)) {
      return absl::InvalidArgumentError(absl::StrCat(spec->name, ": unknown flag --", name));
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }
    if (value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
    }
    out.flags[name] = value;
  }
  for (const std::string& name : spec->required) {
    if (!out.flags.contains(name)) {
      return absl::InvalidArgumentError(absl::StrCat(spec->name, ": missing required flag --", name));
    }
  }
  if (out.files.size() < spec->operands.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec->name, ": missing ", spec->operands[out.files.size()]));
  }
  return out;
}

}  // namespace fourtuple::coordinator
