#include "common/flag_names.h"

#include <algorithm>

namespace fourtuple {

std::vector<std::string> DashesToUnderscores(int argc, const char* const* argv) {
  std::vector<std::string> out(argv, argv + argc);
  for (size_t i = 1; i < out.size(); ++i) {
    std::string& arg = out[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    const size_t start = arg[1] == '-' ? 2 : 1;
    const size_t end = std::min(arg.find('='), arg.size());
    for (size_t c = start; c < end; ++c) {
      if (arg[c] == '-') arg[c] = '_';
    }
  }
  return out;
}

}  // namespace fourtuple
