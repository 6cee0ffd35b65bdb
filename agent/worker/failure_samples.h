// Failure samples on the worker side: for a failure that comes from bytes
// the target sent (echo_mismatch, greeting_mismatch, a refused WebSocket
// upgrade's status line, ...), the first kFailureSampleBytes of one such
// reply per reason go into the worker's shared block, where the agent's front
// picks them up for its report (agent/report_aggregator.h).
//
// One call records one: RecordFailureSample(shared, reason, data, size), or
// ConnectionEngine::RecordFailureSample(reason, data, size) from the engine.
// The first sample of a reason wins; later ones cost a scan of
// kFailureSampleSlots slots and nothing else. Nothing is kept per connection.
// When every slot is taken, further reasons go unsampled (their counts are
// still exact).
//
// Thread-safety: RecordFailureSample and ResetFailureSamples from the
// block's one writer (its worker loop); ReadFailureSamples from any process
// at any time (a slot is published with a release store of its reason).
#ifndef FOURTUPLE_AGENT_WORKER_FAILURE_SAMPLES_H_
#define FOURTUPLE_AGENT_WORKER_FAILURE_SAMPLES_H_

#include <cstddef>
#include <map>
#include <string>

#include "agent/worker/worker_protocol.h"

namespace fourtuple::agent {

// Keeps data[0, min(size, kFailureSampleBytes)) as `reason`'s sample (a
// kReason* code or an errno) unless that reason already has one.
void RecordFailureSample(AgentWorkerShared& shared, int reason, const void* data, size_t size);

// True once `reason` has its sample (callers skip the work of making one).
bool HasFailureSample(const AgentWorkerShared& shared, int reason);

// Frees every slot (a new run).
void ResetFailureSamples(AgentWorkerShared& shared);

// Adds the block's samples to `by_reason` (reason name -> raw bytes), keeping
// a sample already there: the first worker's wins.
void ReadFailureSamples(const AgentWorkerShared& shared, std::map<std::string, std::string>* by_reason);

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_FAILURE_SAMPLES_H_
