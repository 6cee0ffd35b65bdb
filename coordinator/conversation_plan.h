// The plan's conversation bytes: echo.send, echo.expect, echo.first_send,
// echo.first_expect and echo.greeting. Each is a JSON string (its UTF-8
// bytes; JSON escapes such as \r\n and \u0000 work) or, for bytes a string
// cannot hold (0x80 and up), {"hex": "c0 00"}: pairs of hex digits, spaces
// ignored.
//
// Templates: in every field but greeting, "{id}" stands for the connection's
// unique id, 16 lowercase hex digits (common/id_template.h), in the string
// form as in the hex form ({"hex": "0010 {id}"}); a literal "{" in a string
// is written "{{". The plan keeps template text ("{{" and "{id}" as
// written); greeting is kept as its bytes.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_CONVERSATION_PLAN_H_
#define FOURTUPLE_COORDINATOR_CONVERSATION_PLAN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace fourtuple::coordinator {

// Reads one field at `path` ("plan.echo.send"): template text when
// `templated`, else bytes; 1..kMaxSendExpectBytes bytes once expanded.
// Errors name the path and what was expected, including where a template
// goes wrong ("{ID}" at byte 5).
absl::StatusOr<std::string> ReadConversationBytes(const nlohmann::json& value, absl::string_view path,
                                                  bool templated);

// The field as the plan would write it: a string when it is valid UTF-8,
// else the {"hex": ...} form.
nlohmann::ordered_json ConversationBytesToJson(const std::string& text, bool templated);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_CONVERSATION_PLAN_H_
