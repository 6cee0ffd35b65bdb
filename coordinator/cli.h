// The coordinator's command line: `coordinator COMMAND --flag=value ...`.
// Parsed by hand rather than with absl::ParseCommandLine, which exits with
// status 1 on an unknown flag where we promise 2.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_CLI_H_
#define FOURTUPLE_COORDINATOR_CLI_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fourtuple::coordinator {

struct CommandLine {
  std::string command;                       // "run", "preflight", "probe", "report", "compare", "help"
  std::map<std::string, std::string> flags;  // name without dashes -> value ("true" for switches)
  std::vector<std::string> files;            // operands: `report FILE`, `compare A B`

  bool Has(const std::string& name) const { return flags.contains(name); }
  std::string Get(const std::string& name) const {
    auto it = flags.find(name);
    return it == flags.end() ? std::string() : it->second;
  }
};

// Checks the command, that each flag belongs to it, and that required flags
// are there, and that the command has as many file operands as it takes. Errors name the problem (shown above
// the usage text).
absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args);

// The usage text.
std::string Usage();

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_CLI_H_
