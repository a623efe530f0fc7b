// target/local internal: one readiness or liveness probe of one replica, as the kubelet
// runs them: httpGet (a status from 200 to 399 succeeds), tcpSocket (a connection
// succeeds), exec (exit code 0 succeeds). Every probe is bounded by its timeout. Blocking;
// call from a prober thread. Thread-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "target/local/spec_process.h"

namespace plumb::target::local {

struct ProbeResult {
  bool ok = false;
  std::string message;  // why it failed: "HTTP 503 from :4312/healthz", "connection refused"
};

// `port` is the resolved port number on 127.0.0.1; `env` the replica's environment (exec
// probes run with it, in `working_dir`).
ProbeResult RunProbe(const Probe& probe, int port,
                     const std::vector<std::pair<std::string, std::string>>& env,
                     const std::string& working_dir);

}  // namespace plumb::target::local
