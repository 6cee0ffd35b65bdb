// The assignment's TLS part (TlsClientSettings) from the plan's target.tls:
// the PEM contents the coordinator read, versions as wire numbers.
// Thread-safety: a pure function.
#ifndef FOURTUPLE_COORDINATOR_TLS_SETTINGS_H_
#define FOURTUPLE_COORDINATOR_TLS_SETTINGS_H_

#include "coordinator/tls_plan.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::coordinator {

v1::TlsClientSettings TlsSettingsOf(const TlsPlan& tls);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_TLS_SETTINGS_H_
