#include "agent/worker/echo_exchange.h"

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/worker/worker_protocol.h"

namespace fourtuple::agent {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("assignment.", field, ": ", what));
}

absl::Status CheckFixedSize(absl::string_view field, size_t size) {
  if (size < 1 || size > kMaxSendExpectBytes) {
    return FieldError(field, absl::StrCat(size, " bytes is outside 1..", kMaxSendExpectBytes, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<IdTemplate> AssignmentTemplate(const v1::Assignment& assignment, absl::string_view field,
                                              const std::string& text) {
  if (!assignment.echo_templates()) return IdTemplate::Literal(text);
  absl::StatusOr<IdTemplate> parsed = IdTemplate::Parse(text);
  if (!parsed.ok()) return FieldError(field, parsed.status().message());
  if (absl::Status s = CheckFixedSize(field, parsed->size()); !s.ok()) return s;
  return parsed;
}

namespace {}  // namespace

EchoExchange EchoExchange::UniquePayload(uint32_t payload_bytes) {
  EchoExchange exchange;
  exchange.send_bytes_ = payload_bytes;
  exchange.expect_bytes_ = payload_bytes;
  return exchange;
}

EchoExchange EchoExchange::Fixed(std::string send, std::string expect) {
  return Templated(IdTemplate::Literal(send), IdTemplate::Literal(expect));
}

EchoExchange EchoExchange::Templated(IdTemplate send, IdTemplate expect) {
  EchoExchange exchange;
  exchange.fixed_ = true;
  exchange.send_bytes_ = static_cast<uint32_t>(send.size());
  exchange.expect_bytes_ = static_cast<uint32_t>(expect.size());
  exchange.send_ = std::move(send);
  exchange.expect_ = std::move(expect);
  return exchange;
}

namespace {

const char* TemplateData(const IdTemplate& t, const EchoId& id, size_t offset, size_t size, char* scratch) {
  if (!t.has_id()) return t.literal().data() + offset;
  t.Fill(ConversationId(id.agent, id.connection), offset, size, scratch);
  return scratch;
}

}  // namespace

const char* EchoExchange::SendData(const EchoId& id, size_t offset, size_t size, char* scratch) const {
  if (fixed_) return TemplateData(send_, id, offset, size, scratch);
  FillEchoPayload(id, offset, size, scratch);
  return scratch;
}

const char* EchoExchange::ExpectData(const EchoId& id, size_t offset, size_t size, char* scratch) const {
  if (fixed_) return TemplateData(expect_, id, offset, size, scratch);
  FillEchoPayload(id, offset, size, scratch);
  return scratch;
}

bool EchoExchange::ReplyMatches(const EchoId& id, size_t offset, const char* data, size_t size) const {
  if (fixed_) return expect_.Matches(ConversationId(id.agent, id.connection), offset, data, size);
  return EchoPayloadMatches(id, offset, data, size);
}

int64_t EchoExchange::ReplyOwed(uint32_t sent, uint32_t received) const {
  // An echo server returns exactly what it got, however little that was.
  if (!fixed_) return int64_t{sent} - received;
  if (sent < send_bytes_) return -1;
  return int64_t{expect_bytes_} - received;
}

absl::StatusOr<EchoExchange> EchoExchangeOf(const v1::Assignment& assignment) {
  const bool has_send = !assignment.echo_send().empty();
  const bool has_expect = !assignment.echo_expect().empty();
  if (!has_send && !has_expect) {
    const uint32_t bytes = assignment.payload_bytes();
    if (bytes < kMinPayloadBytes || bytes > kMaxPayloadBytes) {
      return FieldError("payload_bytes", absl::StrCat(bytes, " is outside ", kMinPayloadBytes, "..",
                                                      kMaxPayloadBytes, " bytes"));
    }
    return EchoExchange::UniquePayload(bytes);
  }
  if (!has_send) return FieldError("echo_send", "missing (echo_expect needs the bytes to send)");
  if (!has_expect) return FieldError("echo_expect", "missing (echo_send needs the reply to expect)");
  if (absl::Status s = CheckFixedSize("echo_send", assignment.echo_send().size()); !s.ok()) return s;
  if (absl::Status s = CheckFixedSize("echo_expect", assignment.echo_expect().size()); !s.ok()) return s;
  if (assignment.payload_bytes() != 0) {
    return FieldError("payload_bytes", absl::StrCat(assignment.payload_bytes(),
                                                    " with echo_send/echo_expect; expected 0 (the "
                                                    "fixed request replaces the unique-id payload)"));
  }
  absl::StatusOr<IdTemplate> send = AssignmentTemplate(assignment, "echo_send", assignment.echo_send());
  if (!send.ok()) return send.status();
  absl::StatusOr<IdTemplate> expect = AssignmentTemplate(assignment, "echo_expect", assignment.echo_expect());
  if (!expect.ok()) return expect.status();
  return EchoExchange::Templated(*std::move(send), *std::move(expect));
}

}  // namespace fourtuple::agent
