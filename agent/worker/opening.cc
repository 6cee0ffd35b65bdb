#include "agent/worker/opening.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/worker/echo_exchange.h"
#include "common/wire_limits.h"

namespace fourtuple::agent {

absl::StatusOr<Opening> OpeningOf(const v1::Assignment& assignment) {
  Opening opening;
  if (assignment.echo_greeting().size() > kMaxSendExpectBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("assignment.echo_greeting: ", assignment.echo_greeting().size(), " bytes is over ",
                     kMaxSendExpectBytes, " bytes"));
  }
  opening.greeting_ = assignment.echo_greeting();
  const bool has_send = !assignment.echo_first_send().empty();
  const bool has_expect = !assignment.echo_first_expect().empty();
  if (has_send != has_expect) {
    return absl::InvalidArgumentError(
        has_send ? "assignment.echo_first_expect: missing (echo_first_send needs the reply to expect)"
                 : "assignment.echo_first_send: missing (echo_first_expect needs the bytes to send)");
  }
  if (!has_send) return opening;
  absl::StatusOr<IdTemplate> send =
      AssignmentTemplate(assignment, "echo_first_send", assignment.echo_first_send());
  if (!send.ok()) return send.status();
  absl::StatusOr<IdTemplate> expect =
      AssignmentTemplate(assignment, "echo_first_expect", assignment.echo_first_expect());
  if (!expect.ok()) return expect.status();
  opening.first_send_ = *std::move(send);
  opening.first_expect_ = *std::move(expect);
  return opening;
}

}  // namespace fourtuple::agent
