// target-server's Prometheus metrics (GET /metrics on --metrics), all named
// fourtuple_target_*; README.md lists them.
//
// Thread-safety: RenderTargetMetrics only reads the CounterSet (atomics), so
// civetweb's threads may call it at any time.
#ifndef FOURTUPLE_TARGET_SERVER_TARGET_METRICS_H_
#define FOURTUPLE_TARGET_SERVER_TARGET_METRICS_H_

#include <string>

#include "absl/time/time.h"
#include "target-server/counters.h"

namespace fourtuple::target_server {

// The exposition text for the counters now; `start` is when the server began.
std::string RenderTargetMetrics(const CounterSet& counters, absl::Time start, absl::Time now);

}  // namespace fourtuple::target_server

#endif  // FOURTUPLE_TARGET_SERVER_TARGET_METRICS_H_
