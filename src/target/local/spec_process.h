// target/local internal: validation of the running kinds (Process, Job) and of Secret
// into their canonical Expected() bodies, and resolution of a Process/Job spec into what
// the supervisor runs (a RunTemplate: argv, the environment with ConfigMap/Secret values
// resolved, probes, limits, rollout strategy). Pure: no I/O. Thread-safe.
//
// Durations are the Kubernetes fields (periodSeconds, terminationGracePeriodSeconds, ...);
// they take fractions too (periodSeconds: 0.05), which tests use.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "resource/resource.h"
#include "resource/value.h"
#include "target/local/shim.h"
#include "target/target.h"

namespace plumb::target::local {

// The annotation Expected() puts on a Process or Job: a keyed hash of everything a
// replica runs with (spec and the ConfigMap/Secret values it consumes), so a change to a
// consumed ConfigMap shows as a change of the Process and rolls it out. Keyed, so the
// hash of a low-entropy secret cannot be brute-forced from a diff.
inline constexpr const char* kTemplateHashAnnotation = "local.plumbline.dev/template-hash";

struct Probe {
  enum class Kind { kHttpGet, kTcpSocket, kExec } kind = Kind::kTcpSocket;
  std::string path = "/";         // httpGet
  std::string port;               // httpGet/tcpSocket: a port name, or a number as text
  std::vector<std::string> exec;  // exec.command
  Duration initial_delay = Duration(0);
  Duration period = Duration(10000);
  Duration timeout = Duration(1000);
  int failure_threshold = 3;
  int success_threshold = 1;
};

struct PortSpec {
  std::string name;
  int port = 0;  // 0: plumbline picks a free port per replica
};

// What every replica of a Process (or attempt of a Job) runs, resolved.
struct RunTemplate {
  ShimSpec shim;  // argv, env from the spec (without PORT*, PLUMB_*), limits, restart
  std::vector<PortSpec> ports;
  std::optional<Probe> readiness, liveness;
  std::string hash;  // the template hash (kTemplateHashAnnotation)
  // Process:
  int replicas = 1;
  std::string max_surge = "25%", max_unavailable = "25%";  // ints as text, or "N%"
  Duration progress_deadline = Duration(600000);
  // Job:
  int backoff_limit = 6;
  Duration active_deadline = Duration(0);  // 0: none
  // cgroup v2 limits to apply when the host offers delegation ("" = none); when it does
  // not, the Process's health message says so instead of ignoring them.
  std::string memory_max, cpu_max;
};

// Canonical bodies. A Process/Job body is the user's spec, validated (unknown fields are
// InvalidArgument naming them), with kTemplateHashAnnotation added under
// metadata.annotations. `hash_key` keys the template hash.
Result<resource::Value> ExpectedProcess(const AppContext& ctx, const resource::Resource& r,
                                        const std::string& hash_key);
Result<resource::Value> ExpectedJob(const AppContext& ctx, const resource::Resource& r,
                                    const std::string& hash_key);
// A Secret: `data` (base64 values, checked) with `stringData` merged in (encoded), as
// Kubernetes does; `type` kept.
Result<resource::Value> ExpectedSecret(const resource::Resource& r);

// The template a Process or Job runs, from its resource in ctx.desired (references to
// ConfigMaps/Secrets resolved from ctx.desired). Errors name the file and field.
Result<RunTemplate> ResolveTemplate(const AppContext& ctx, const resource::Resource& r,
                                    const std::string& hash_key);

// maxSurge / maxUnavailable of `replicas` ("25%" or "1"): surge rounds up, unavailable
// down, as Kubernetes does; both 0 becomes unavailable 1 (a rollout must move).
std::pair<int, int> SurgeAndUnavailable(const RunTemplate& t);

// Signal number from "SIGTERM", "TERM" or "15"; 0 when unknown.
int ParseSignal(const std::string& name);

// RunTemplate <-> JSON, for the file the supervisor keeps beside the replicas (0600: the
// environment holds secret values).
std::string RunTemplateToJson(const RunTemplate& t);
Result<RunTemplate> RunTemplateFromJson(const std::string& json, const std::string& where);

}  // namespace plumb::target::local
