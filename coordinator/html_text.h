// Text into an HTML page. The report's strings are not all ours (agents'
// host names and errors, plan strings, failure reasons), so each is escaped
// where it enters the page, and what is not valid text becomes U+FFFD.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_HTML_TEXT_H_
#define FOURTUPLE_COORDINATOR_HTML_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace fourtuple::coordinator {

// What the page shows for a value that is missing or unreadable.
inline constexpr absl::string_view kMissingValue = "\u2014";  // an em dash

// Appends `text` escaped for element text and quoted attribute values alike:
// & < > " ' as entities; control characters other than newline and tab,
// and bytes that are not well-formed UTF-8, as U+FFFD.
void AppendEscapedHtml(std::string* out, absl::string_view text);

// The same, returned.
std::string EscapeHtml(absl::string_view text);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_HTML_TEXT_H_
