#include "common/flag_names.h"

#include <algorithm>
#include <map>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

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

absl::Status CheckFlagArguments(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") break;
    if (!absl::StartsWith(arg, "-") || arg == "-") {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", arg, "\" (flags only, --name=value; see --help)"));
    }
    absl::string_view name = absl::StripPrefix(absl::StripPrefix(arg, "-"), "-");
    name = name.substr(0, name.find('='));
    if (const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name); flag != nullptr) {
      // "--name value": the value is the next argument.
      if (arg.find('=') == absl::string_view::npos && !flag->IsOfType<bool>()) ++i;
      continue;
    }
    if (absl::StartsWith(name, "no") && absl::FindCommandLineFlag(name.substr(2)) != nullptr) {
      continue;
    }
    std::string shown(name);
    std::replace(shown.begin(), shown.end(), '_', '-');
    return absl::InvalidArgumentError(absl::StrCat("unknown flag --", shown, " (see --help)"));
  }
  return absl::OkStatus();
}

bool WantsHelp(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--help" || args[i] == "-help" || args[i] == "-h") return true;
  }
  return false;
}

std::string HelpText() {
  std::string text = absl::StrCat(absl::ProgramUsageMessage(), "\n\nFlags:\n");
  std::map<std::string, const absl::CommandLineFlag*> sorted;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    // absl's own (--flagfile, --fromenv, ...) are not this program's.
    if (absl::StrContains(flag->Filename(), "absl/")) continue;
    std::string shown(name);
    std::replace(shown.begin(), shown.end(), '_', '-');
    sorted.emplace(std::move(shown), flag);
  }
  for (const auto& [shown, flag] : sorted) {
    absl::StrAppend(&text, "  --", shown, "  ", flag->Help());
    const std::string default_value = flag->DefaultValue();
    if (!default_value.empty()) absl::StrAppend(&text, " (default: ", default_value, ")");
    absl::StrAppend(&text, "\n");
  }
  return text;
}

}  // namespace fourtuple
