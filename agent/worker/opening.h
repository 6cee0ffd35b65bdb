// What a connection must get through between TCP (and TLS) established and
// counting as established: the plan's echo.greeting — bytes the target sends
// first (an SMTP or FTP banner) — and then echo.first_send / first_expect, a
// request sent once per connection and its exact reply (an MQTT CONNECT with
// the connection's id as client id, and its CONNACK).
//
// One Opening per worker holds the bytes; a connection going through it
// keeps only byte counts in its record (Connection::echo_sent /
// echo_received, free until it is established) and stays in flight, under
// connect_timeout, until the last byte checks out.
//
// Thread-safety: immutable after construction.
#ifndef FOURTUPLE_AGENT_WORKER_OPENING_H_
#define FOURTUPLE_AGENT_WORKER_OPENING_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/id_template.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::agent {

class Opening {
 public:
  Opening() = default;

  // Nothing between established and counting as established.
  bool empty() const { return greeting_.empty() && !has_first(); }
  // Literal bytes ("{" is a byte: the target cannot know the id yet).
  const std::string& greeting() const { return greeting_; }
  bool has_first() const { return first_send_.size() > 0; }
  const IdTemplate& first_send() const { return first_send_; }
  const IdTemplate& first_expect() const { return first_expect_; }

 private:
  friend absl::StatusOr<Opening> OpeningOf(const v1::Assignment& assignment);
  std::string greeting_;
  IdTemplate first_send_;
  IdTemplate first_expect_;
};

// The opening an assignment asks for: echo_greeting (0..kMaxSendExpectBytes
// bytes) and echo_first_send with echo_first_expect (both or neither, each
// 1..kMaxSendExpectBytes expanded). INVALID_ARGUMENT "assignment.FIELD: ..."
// otherwise.
absl::StatusOr<Opening> OpeningOf(const v1::Assignment& assignment);

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_OPENING_H_
