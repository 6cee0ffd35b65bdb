// What one echo round sends on a connection and must read back: either the
// unique-id payload of agent/echo_payload.h (an echo server returns it
// unchanged), or — for servers that are not echo servers — a fixed request and
// its fixed reply (the plan's echo.send / echo.expect, say "PING\r\n" and
// "+PONG\r\n" for Redis), each of which may carry the connection's id
// ("{id}", common/id_template.h).
//
// One EchoExchange per worker holds the fixed strings; connections keep only
// byte counts (Connection::echo_sent / echo_received), so send/expect costs
// nothing per connection whatever the strings' size: an id is written into
// the bytes as they are sent and compared as the reply is read.
//
// Thread-safety: immutable after construction; the functions are pure.
#ifndef FOURTUPLE_AGENT_WORKER_ECHO_EXCHANGE_H_
#define FOURTUPLE_AGENT_WORKER_ECHO_EXCHANGE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "agent/worker/echo_payload.h"
#include "common/id_template.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::agent {

class EchoExchange {
 public:
  // The unique-id payload of `payload_bytes` (the caller checked the bounds).
  static EchoExchange UniquePayload(uint32_t payload_bytes);
  // A fixed request and reply, each 1..kMaxSendExpectBytes (caller-checked).
  static EchoExchange Fixed(std::string send, std::string expect);
  // The same, with the connection's id where the templates say (each
  // expansion 1..kMaxSendExpectBytes, caller-checked).
  static EchoExchange Templated(IdTemplate send, IdTemplate expect);

  bool fixed() const { return fixed_; }
  // Bytes each connection sends per round, and reads back per round.
  uint32_t send_bytes() const { return send_bytes_; }
  uint32_t expect_bytes() const { return expect_bytes_; }

  // Bytes [offset, offset + size) of what connection `id` sends. The unique
  // payload is generated into `scratch` (size bytes); a fixed request is
  // returned in place unless it carries the id (then written to scratch).
  const char* SendData(const EchoId& id, size_t offset, size_t size, char* scratch) const;
  // Bytes [offset, offset + size) of the reply `id` expects, the same way.
  const char* ExpectData(const EchoId& id, size_t offset, size_t size, char* scratch) const;

  // True when data[0, size) equals reply bytes [offset, offset + size) of `id`;
  // offset + size <= expect_bytes().
  bool ReplyMatches(const EchoId& id, size_t offset, const char* data, size_t size) const;

  // Reply bytes still owed when a round gave up after `sent` request bytes
  // were written and `received` reply bytes read; they are discarded when they
  // arrive. -1 when it cannot be known: a fixed request only partly written
  // may never be answered, or be answered together with the next one.
  int64_t ReplyOwed(uint32_t sent, uint32_t received) const;

 private:
  EchoExchange() = default;

  bool fixed_ = false;
  uint32_t send_bytes_ = 0;
  uint32_t expect_bytes_ = 0;
  IdTemplate send_;    // fixed only
  IdTemplate expect_;  // fixed only
};

// The exchange an assignment asks for: echo_send and echo_expect (both
// 1..kMaxSendExpectBytes, payload_bytes 0; templates with echo_templates),
// or neither and payload_bytes
// kMinPayloadBytes..kMaxPayloadBytes. INVALID_ARGUMENT naming the field
// ("assignment.echo_expect: ...") otherwise: the assignment is untrusted.
absl::StatusOr<EchoExchange> EchoExchangeOf(const v1::Assignment& assignment);

// `text`, a field of `assignment`, as a template when the assignment says
// echo_templates (its expansion 1..kMaxSendExpectBytes), else as literal
// bytes. INVALID_ARGUMENT "assignment.FIELD: ..." when it is not one.
absl::StatusOr<IdTemplate> AssignmentTemplate(const v1::Assignment& assignment, absl::string_view field,
                                              const std::string& text);

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_ECHO_EXCHANGE_H_
