// Flags are written with dashes (--ready-file, --stats-interval) but absl
// flag names cannot hold one. Thread-safe (pure function).
#ifndef FOURTUPLE_COMMON_FLAG_NAMES_H_
#define FOURTUPLE_COMMON_FLAG_NAMES_H_

#include <string>
#include <vector>

namespace fourtuple {

// Returns argv with "-" turned into "_" in the name part of every
// "-name[=value]" / "--name[=value]" argument; values, argv[0] and everything
// after a bare "--" stay as they are.
std::vector<std::string> DashesToUnderscores(int argc, const char* const* argv);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_FLAG_NAMES_H_
