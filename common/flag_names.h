// Command-line helpers shared by the programs that parse flags with absl
// (agent, target-server). Flags are written with dashes (--ready-file,
// --stats-interval) but absl flag names cannot hold one; and absl exits 1 on
// an unknown flag where our contract says a bad command line exits 2.
// Thread-safe (pure functions; CheckFlagArguments reads absl's flag registry,
// which is fixed once main() runs).
#ifndef FOURTUPLE_COMMON_FLAG_NAMES_H_
#define FOURTUPLE_COMMON_FLAG_NAMES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace fourtuple {

// Returns argv with "-" turned into "_" in the name part of every
// "-name[=value]" / "--name[=value]" argument; values, argv[0] and everything
// after a bare "--" stay as they are.
std::vector<std::string> DashesToUnderscores(int argc, const char* const* argv);

// Checks the output of DashesToUnderscores before absl parses it: every
// argument must name a defined flag ("--name=value", "--name value",
// "--[no]bool"). InvalidArgument "unknown flag --name (see --help)" (shown
// with dashes) or "unexpected argument ..." otherwise.
absl::Status CheckFlagArguments(const std::vector<std::string>& args);

// True when the arguments (before a bare "--") ask for help: --help, -help
// or -h. Checked before CheckFlagArguments, which does not know them.
bool WantsHelp(const std::vector<std::string>& args);

// absl's program usage message, then every flag the program itself defines
// (absl's own flags left out), sorted, with dashes, its help and default:
// what --help prints.
std::string HelpText();

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_FLAG_NAMES_H_
