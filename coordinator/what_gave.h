// What gave, when a run did not pass or was refused: the limits behind it
// ("ports", "fds", "memory", "backlog", "route", "target", "time", "agent",
// or preflight's "conntrack", "non-local source"), most failures first. The
// report's "what_gave" and the summary's "what gave:" line.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_WHAT_GAVE_H_
#define FOURTUPLE_COORDINATOR_WHAT_GAVE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace fourtuple::coordinator {

// One entry per limit from the run's failures by reason (failure_reason.h's
// ReasonLimit; a reason with none is its own limit):
//   {"limit": "ports", "failures": 1200, "reasons": {"EADDRNOTAVAIL": 1200}}
// most failures first, then one per `timeouts` sentence as
//   {"limit": "time", "detail": "ramp_timeout (1m) passed ..."}
// and one per `lost_agents` sentence as {"limit": "agent", "detail": ...}.
nlohmann::ordered_json WhatGaveFromRun(const std::map<std::string, uint64_t>& failures,
                                       const std::vector<std::string>& timeouts,
                                       const std::vector<std::string>& lost_agents);

// {"limit": "target", "detail": "the target ran out of fds: ..."}: its
// workers stopped accepting `times` times at their connection budget.
nlohmann::ordered_json TargetAtCapacity(uint64_t times);

// Preflight's refusal: {"limit": "memory"} per exceeded limit, in order.
nlohmann::ordered_json WhatGaveFromPreflight(const std::vector<std::string>& exceeded_limits);

// "ports (1,200 x EADDRNOTAVAIL), time (ramp_timeout (1m) passed ...)", for
// a terminal: the reasons and details (agents' words) escaped
// (terminal_text.h). Empty for anything but a non-empty array.
std::string FormatWhatGave(const nlohmann::ordered_json& what_gave);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_WHAT_GAVE_H_
