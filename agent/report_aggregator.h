// Folds the workers' shared-memory blocks into one RunReport: the agent's
// view of its run, as the coordinator receives it.
// Thread-safety: pure functions; they only read the blocks (which the
// workers keep writing: every counter is read once, relaxed, so a report may
// mix moments a few microseconds apart but never shows a torn value).
#ifndef FOURTUPLE_AGENT_REPORT_AGGREGATOR_H_
#define FOURTUPLE_AGENT_REPORT_AGGREGATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "agent/worker/source_space.h"
#include "agent/worker/worker_protocol.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::agent {

// The run's phase and echo progress, cheap enough to poll every few ms.
struct PhaseSummary {
  v1::RunPhase phase = v1::RUN_PHASE_UNSPECIFIED;  // UNSPECIFIED while any worker is starting
  uint32_t echo_rounds_done = 0;                   // min over workers
  bool operator==(const PhaseSummary& other) const = default;
};

// The least advanced phase over the workers; FAILED if any failed (or wrote
// a phase we do not know). A run with one worker echoing and the rest back
// at CONNECTED is still ECHOING.
PhaseSummary SummarizePhases(absl::Span<const AgentWorkerShared* const> workers);

// Per source address totals over the workers, kept between reports so a
// report at a million addresses reuses them: 8 bytes per address the run
// reaches (SourceSpace::Used()).
struct SourceTally {
  std::vector<uint32_t> established;
  std::vector<uint32_t> failed;
};

// Source addresses a report names one by one; the rest are only in the
// summary and source_addresses_used.
inline constexpr size_t kReportedSourceAddresses = 256;

// Fills every worker-derived field of `report`: phase, counters (summed),
// failures by reason name (nonzero only), per source address
// (established_by_source and failed_by_source: every address when there are
// at most kReportedSourceAddresses, else those with failures then the
// busiest; source_addresses_used, source_address_summary), merged
// histograms, echo_round (max) / echo_rounds_done (min), and error (each
// worker's message, "worker 1: ..."). Leaves seq, host, processes,
// requested and elapsed_seconds to the caller. Each block holds
// SourceCountsIn(block_bytes) counters.
void AggregateWorkers(absl::Span<const AgentWorkerShared* const> workers, size_t block_bytes,
                      const SourceSpace& sources, SourceTally* tally, v1::RunReport* report);

// The message a worker wrote to its block, or "" when none.
std::string WorkerError(const AgentWorkerShared& worker);

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_REPORT_AGGREGATOR_H_
