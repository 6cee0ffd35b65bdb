#include "agent/worker_plan.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/agent_options.h"
#include "common/host_facts.h"
#include "common/human_format.h"

namespace fourtuple::agent {

absl::StatusOr<int> DecideWorkerCount(const WorkerCountRequest& request) {
  const uint64_t budget = FdBudgetPerProcess(request.nofile_soft);
  if (budget == 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the fd limit leaves no room for connections (RLIMIT_NOFILE soft ", FormatCount(request.nofile_soft),
        ", ", kFdReserve, " reserved per process): raise LimitNOFILE/ulimit -n"));
  }
  const uint64_t needed = (request.connections + budget - 1) / budget;
  const uint64_t connections = std::max<uint64_t>(request.connections, 1);

  uint64_t count = request.assignment_processes != 0 ? request.assignment_processes
                                                     : static_cast<uint64_t>(request.flag_processes);
  if (count == 0) {
    if (needed > static_cast<uint64_t>(kMaxProcesses)) {
      return absl::ResourceExhaustedError(
          absl::StrCat(CountPhrase(request.connections, "connection needs", "connections need"), " ",
                       CountPhrase(needed, "worker process", "worker processes"), " at the fd limit of ",
                       FormatCount(budget), " per process (RLIMIT_NOFILE soft ",
                       FormatCount(request.nofile_soft), "), more than the ", FormatCount(kMaxProcesses),
                       " allowed: raise LimitNOFILE/ulimit -n or spread the run over more agents"));
    }
    count = std::max<uint64_t>(needed, std::max<uint32_t>(request.cores, 1));
  } else if (count < needed) {
    return absl::ResourceExhaustedError(absl::StrCat(
        CountPhrase(request.connections, "connection needs", "connections need"), " at least ",
        CountPhrase(needed, "worker process", "worker processes"), " at the fd limit of ",
        FormatCount(budget), " per process (RLIMIT_NOFILE soft ", FormatCount(request.nofile_soft),
        "): use --processes=", needed, " or raise LimitNOFILE/ulimit -n"));
  }
  return static_cast<int>(std::min(count, connections));
}

std::vector<v1::WorkerStart> SplitIntoSlices(const v1::Assignment& assignment, int workers) {
  const uint64_t n = assignment.connections();
  const uint64_t w = static_cast<uint64_t>(std::max(workers, 1));
  const uint32_t in_flight = assignment.max_in_flight();
  std::vector<v1::WorkerStart> slices(w);
  uint64_t first = 0;
  double rate_given = 0;
  for (uint64_t i = 0; i < w; ++i) {
    v1::WorkerStart& slice = slices[i];
    *slice.mutable_assignment() = assignment;
    const uint64_t count = n / w + (i < n % w ? 1 : 0);
    slice.set_first_connection(first);
    slice.set_connections(count);
    first += count;

    // The rate follows the connection count so every worker ramps in the same
    // time; the last takes the remainder so the shares sum to the total.
    double rate = 0;
    if (assignment.connect_rate() > 0) {
      rate = i + 1 == w ? std::max(assignment.connect_rate() - rate_given, 0.0)
             : n == 0   ? assignment.connect_rate() / static_cast<double>(w)
                        : assignment.connect_rate() * static_cast<double>(count) / static_cast<double>(n);
      rate_given += rate;
    }
    slice.set_connect_rate(rate);
    slice.set_echo_rate(assignment.echo_rate() > 0 && n > 0
                            ? assignment.echo_rate() * static_cast<double>(count) / static_cast<double>(n)
                            : 0);
    slice.set_worker_index(static_cast<uint32_t>(i));
    slice.set_worker_count(static_cast<uint32_t>(w));

    const uint32_t share = static_cast<uint32_t>(in_flight / w + (i < in_flight % w ? 1 : 0));
    slice.set_max_in_flight(
        static_cast<uint32_t>(std::clamp<uint64_t>(share, 1, std::max<uint64_t>(count, 1))));
  }
  return slices;
}

}  // namespace fourtuple::agent
