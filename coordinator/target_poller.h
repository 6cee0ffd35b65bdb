// Polls the target-server's TargetControl.GetStats off the run driver's
// thread, so a control endpoint that is slow or never answers cannot delay
// heartbeats: the driver asks for a sample (Request, which never blocks) and
// takes what was gathered when the run ends (Finish).
//
// Thread-safety: Request and Finish are called from one thread (the driver);
// the poller's own thread makes the calls. Finish cancels a call in flight
// and joins the thread.
#ifndef FOURTUPLE_COORDINATOR_TARGET_POLLER_H_
#define FOURTUPLE_COORDINATOR_TARGET_POLLER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/report.h"
#include "proto/fourtuple.grpc.pb.h"

namespace fourtuple::coordinator {

class TargetPoller {
 public:
  // Each GetStats on `endpoint` may take up to `timeout`.
  TargetPoller(std::string endpoint, std::shared_ptr<grpc::ChannelCredentials> credentials,
               absl::Duration timeout);
  ~TargetPoller();

  TargetPoller(const TargetPoller&) = delete;
  TargetPoller& operator=(const TargetPoller&) = delete;

  // Asks for one more GetStats; requests made while one is waiting to start
  // are merged. Returns at once.
  void Request();

  // Ends polling (a call in flight is cancelled) and returns every answer
  // folded together: the peak open count, the last accepted and at-capacity
  // counts, and the last failure if one happened or a call was still
  // unanswered.
  TargetRecord Finish();

 private:
  void Loop();

  const std::string endpoint_;
  const absl::Duration timeout_;
  const std::unique_ptr<v1::TargetControl::Stub> stub_;

  absl::Mutex mu_;
  bool requested_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* in_flight_ ABSL_GUARDED_BY(mu_) = nullptr;
  TargetRecord record_ ABSL_GUARDED_BY(mu_);
  // Across restarts (the start time moving on): the latest start the last
  // answer allows, its accepted count and the earlier lives' sum.
  absl::Time last_started_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t last_accepted_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t accepted_before_ ABSL_GUARDED_BY(mu_) = 0;
  bool away_ ABSL_GUARDED_BY(mu_) = false;  // the last call failed

  std::thread thread_;  // last: started once the rest is built
};

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_TARGET_POLLER_H_
