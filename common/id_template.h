// A request or reply with the connection's id in it: the plan's echo.send,
// echo.expect, echo.first_send and echo.first_expect, where "{id}" stands for
// the connection's unique id as 16 lowercase hex digits (fixed width, so a
// binary protocol's length fields stay constant) and "{{" for a literal "{".
//
// Parsed once per worker into the expansion's literal bytes (the id's places
// left as zeros) and the offsets where the id goes; a connection's bytes are
// then written or compared range by range, so nothing is expanded or stored
// per connection: the engine keeps only its byte counts, as for a fixed
// request.
//
// Ids: ConversationId(agent index, agent-wide connection index) packs the
// agent index into the top 24 bits and the connection index into the low 40,
// so every connection of a run (any agent, any worker) has its own id.
//
// Thread-safety: immutable after Parse; the functions are pure.
#ifndef FOURTUPLE_COMMON_ID_TEMPLATE_H_
#define FOURTUPLE_COMMON_ID_TEMPLATE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fourtuple {

// Hex digits of an id in an expansion.
inline constexpr size_t kIdDigits = 16;

// The id "{id}" expands to for connection `connection` of agent `agent`.
inline uint64_t ConversationId(uint32_t agent, uint64_t connection) {
  return (static_cast<uint64_t>(agent) << 40) | (connection & ((uint64_t{1} << 40) - 1));
}

// Writes the 16 lowercase hex digits of `id` to out[0, 16).
void FormatId(uint64_t id, char* out);

class IdTemplate {
 public:
  IdTemplate() = default;
  // Parses `text`: "{id}" and "{{" as above; a "{" followed by anything else
  // ("{ID}", "{id", "{idx}") is INVALID_ARGUMENT saying where and how to
  // write it. The message names no field: callers prefix theirs.
  static absl::StatusOr<IdTemplate> Parse(absl::string_view text);
  // Literal bytes, no template syntax ("{" is just a byte).
  static IdTemplate Literal(absl::string_view bytes);

  // Bytes of the expansion (the same for every id).
  size_t size() const { return literal_.size(); }
  bool has_id() const { return !id_offsets_.empty(); }
  // The expansion with the id's places as zero bytes; the whole expansion
  // when !has_id().
  const std::string& literal() const { return literal_; }

  // Writes expansion bytes [offset, offset + size) for `id` to out.
  void Fill(uint64_t id, size_t offset, size_t size, char* out) const;
  // True when data[0, size) equals expansion bytes [offset, offset + size)
  // for `id` (offset + size <= size()).
  bool Matches(uint64_t id, size_t offset, const char* data, size_t size) const;

 private:
  std::string literal_;
  std::vector<uint32_t> id_offsets_;  // ascending, each kIdDigits long
};

// `text` with "{" written as "{{": a template that expands to exactly `bytes`.
std::string EscapeTemplateBraces(absl::string_view bytes);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_ID_TEMPLATE_H_
