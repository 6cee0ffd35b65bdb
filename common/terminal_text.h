// Text from elsewhere, made safe to print on a terminal or in a log line.
//
// Host names, versions, error texts and failure reasons come from agents,
// replies from servers: a control character in them could move the cursor,
// clear the screen, retitle the window or split one log line into two that
// look like ours. Whatever the coordinator prints that it did not write
// itself goes through EscapeForTerminal: table cells (text_table.h), the
// summary's and progress's fields and problem sentences; and every log line
// of every program does (logging.h).
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COMMON_TERMINAL_TEXT_H_
#define FOURTUPLE_COMMON_TERMINAL_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace fourtuple {

// `text` with every control character written as a visible escape: "\n",
// "\r", "\t", other C0 characters and DEL as "\x1b", C1 characters and the
// bidirectional overrides (which reorder what follows them on screen) as
// "\u009b". A byte that is not part of well-formed UTF-8 becomes "\xff".
// Everything else, UTF-8 included, is kept as it is.
std::string EscapeForTerminal(absl::string_view text);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_TERMINAL_TEXT_H_
