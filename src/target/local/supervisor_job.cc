// The supervisor's Jobs: one attempt at a time under a shim (restart policy Never), up to
// backoffLimit retries with back-off, bounded by activeDeadlineSeconds.
#include <algorithm>

#include "core/strings.h"
#include "target/local/supervisor_impl.h"

namespace plumb::target::local {

void Supervisor::Impl::TickJob(Object& o, int64_t now) {
  JobRun& run = o.run;
  const JobRun before = run;
  Replica* attempt = nullptr;
  for (Replica& r : o.replicas)
    if (!r.stopping) attempt = &r;
  const int max_attempts = o.t.backoff_limit + 1;
  auto attempt_text = [&] {
    return "attempt " + std::to_string(run.failures + 1) + " of " + std::to_string(max_attempts);
  };
  auto start = [&] {
    Status s = StartReplica(o, run.failures);
    if (!s.ok()) {
      run.state = "Failed";
      run.finished_ms = now;
      run.message = "cannot start: " + s.message();
      Event(o, "Warning", "JobFailed", run.message);
      return;
    }
    if (run.started_ms == 0) run.started_ms = now;
    run.state = "Running";
    Event(o, "Normal", "JobStarted", attempt_text());
  };

  if (run.state == "Pending") {
    start();
  } else if (run.state == "BackOff" && now >= run.next_ms) {
    start();
  } else if (run.state == "Running" && !attempt) {
    // The attempt vanished (its shim was killed): counts as a failure.
    run.failures++;
    run.message = "the attempt's supervisor process is gone";
    run.state = run.failures >= max_attempts ? "Failed" : "BackOff";
  } else if (run.state == "Running" && attempt->have_status) {
    const ShimStatus& st = attempt->st;
    const bool ended = st.state == "Exited" || st.state == "Failed" || st.state == "Stopped" ||
                       (st.last_exit_ms != 0 && st.state != "Running");
    if (ended) {
      if (st.state == "Exited" && st.last_exit_code == 0 && st.last_signal == 0) {
        run.state = "Succeeded";
        run.finished_ms = now;
        run.message = "completed in " + FormatDuration(Duration(now - run.started_ms));
        Event(o, "Normal", "JobSucceeded", run.message);
      } else {
        run.failures++;
        std::string why = ExitText(st);
        std::string tail = LogTail(attempt->dir, 5);
        if (run.failures >= max_attempts) {
          run.state = "Failed";
          run.finished_ms = now;
          run.message = why + " (" + std::to_string(run.failures) + " of " +
                        std::to_string(max_attempts) + " attempts failed; backoffLimit " +
                        std::to_string(o.t.backoff_limit) + ")" +
                        (tail.empty() ? "" : "\nlast log lines:\n" + tail);
          Event(o, "Warning", "JobFailed", run.message);
        } else {
          Duration wait = options.backoff_initial;
          for (int i = 1; i < run.failures && wait < options.backoff_max; ++i) wait *= 2;
          wait = std::min(wait, options.backoff_max);
          run.state = "BackOff";
          run.next_ms = now + wait.count();
          run.message = why + "; retrying in " + FormatDuration(wait);
          Event(o, "Warning", "JobRetry",
                "attempt " + std::to_string(run.failures) + " failed: " + run.message);
        }
      }
      StopReplica(*attempt, now);  // the shim may linger after its program ended
    }
  }
  if ((run.state == "Running" || run.state == "BackOff") && o.t.active_deadline.count() > 0 &&
      run.started_ms > 0 && now - run.started_ms > o.t.active_deadline.count()) {
    for (Replica& r : o.replicas) StopReplica(r, now);
    run.state = "Failed";
    run.finished_ms = now;
    run.message = "DeadlineExceeded: ran longer than activeDeadlineSeconds (" +
                  FormatDuration(o.t.active_deadline) + ")";
    Event(o, "Warning", "JobFailed", run.message);
  }
  if (run.state != before.state || run.failures != before.failures) (void)SaveObject(o);
  UpdateHealth(o, JobHealth(o, now));
}

Health Supervisor::Impl::JobHealth(const Object& o, int64_t now) const {
  const JobRun& run = o.run;
  if (run.state == "Succeeded") return {HealthStatus::kHealthy, run.message};
  if (run.state == "Failed") return {HealthStatus::kDegraded, run.message};
  const int max_attempts = o.t.backoff_limit + 1;
  std::string text = "running (attempt " + std::to_string(run.failures + 1) + " of " +
                     std::to_string(max_attempts) + ")";
  if (run.state == "BackOff")
    text = "attempt " + std::to_string(run.failures) + " failed; " + run.message.substr(0, 200) +
           (run.next_ms > now ? "" : "");
  return {HealthStatus::kProgressing, text};
}

}  // namespace plumb::target::local
