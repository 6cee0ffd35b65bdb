// How a run is spread over worker processes: how many, and which slice of
// the connection ids, connect rate and in-flight cap each one gets.
// Thread-safety: pure functions.
#ifndef FOURTUPLE_AGENT_WORKER_PLAN_H_
#define FOURTUPLE_AGENT_WORKER_PLAN_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::agent {

struct WorkerCountRequest {
  uint64_t connections = 0;           // the assignment's
  uint32_t assignment_processes = 0;  // Assignment.processes; 0 = not set
  int flag_processes = 0;             // --processes; 0 = auto
  uint64_t nofile_soft = 0;           // RLIMIT_NOFILE soft, as the workers inherit it
  uint32_t cores = 1;
};

// The worker count: the assignment's, else --processes, else auto (enough
// processes that each stays inside FdBudgetPerProcess, at least one per core).
// Never more workers than connections: an empty worker would only cost a
// process. RESOURCE_EXHAUSTED when the count cannot hold the connections
// inside the fd budget, with the fix spelled out.
absl::StatusOr<int> DecideWorkerCount(const WorkerCountRequest& request);

// One WorkerStart per worker: contiguous connection-id ranges covering
// [0, connections), sizes differing by at most one; connect_rate split so
// the shares add up to the assignment's; max_in_flight split likewise but
// each share is at least 1 and at most the worker's connections, so the
// shares add up to max(min(max_in_flight, connections), workers).
// `workers` >= 1.
std::vector<v1::WorkerStart> SplitIntoSlices(const v1::Assignment& assignment, int workers);

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_PLAN_H_
