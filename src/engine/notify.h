// engine: notifications. `Notification` resources (plumbline.dev/v1) in any
// Application's path name a provider (a `webhook` getting a JSON body, or `slack`'s
// incoming-webhook shape) and the triggers they want; matching transitions are
// delivered on a background thread with retries and back-off, identical alerts are
// rate-limited, and every delivery is recorded as an event. Provider URLs and tokens
// are never logged or shown (URLs often carry tokens); both may come from a `Secret`
// in the same Application's desired set (`urlFrom`/`tokenFrom: {secretKeyRef}`).
//
// Thread-safety: all public methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "resource/resource.h"

namespace plumb::engine {

struct NotificationSpec {
  std::string name;
  std::string owner;                  // the Application whose path declares it
  std::string type = "webhook";       // webhook | slack
  std::string url;                    // secret-ish: never logged
  std::string token;                  // sent as `Authorization: Bearer`; never logged
  std::vector<std::string> triggers;  // SyncSucceeded, SyncFailed, HealthDegraded, ...
  std::vector<std::string> apps;      // empty or "*" = every Application
  std::string min_severity = "info";  // info | warning
  Duration rate_limit = Duration(300000);
  int max_attempts = 5;
};

// The triggers users subscribe to.
inline constexpr const char* kTriggers[] = {"SyncSucceeded",
                                            "SyncFailed",
                                            "HealthDegraded",
                                            "HealthRecovered",
                                            "DriftDetected",
                                            "Promoted",
                                            "PromotionBlocked",
                                            "ComparisonError",
                                            "PlaintextSecretInGit",
                                            "SourceVerificationFailed",
                                            "SecretLeak"};

bool IsNotification(const resource::ResourceId& id);
// Validates a Notification manifest; errors name its origin and the field. A
// `urlFrom`/`tokenFrom` `secretKeyRef` is resolved from the Secret (any group's kind
// `Secret`, same namespace) in `desired`, the owner's rendered resources: `stringData`
// as is, `data` base64-decoded, surrounding whitespace trimmed. Errors name where a
// value comes from ("the URL from Secret hooks/url"), never the value.
Result<NotificationSpec> NotificationFromResource(const resource::Resource& r,
                                                  const std::string& owner,
                                                  const std::vector<resource::Resource>& desired);

struct Alert {
  std::string trigger;
  std::string app;
  std::string severity;  // info | warning
  std::string message;
  std::string revision;
  int64_t time_ms = 0;
  // What makes two alerts "identical" for the rate limit, besides trigger and app; the
  // message when empty. Health alerts name the health and the resource, not the message,
  // which changes with every crash of a crash loop ("restarting in 92ms", the log tail).
  std::string subject;
};

class Notifier {
 public:
  // `record(app, type, reason, message)` stores delivery events. `retry_base` is the
  // first back-off (doubling) between attempts.
  using RecordFn = std::function<void(const std::string&, const std::string&, const std::string&,
                                      const std::string&)>;
  Notifier(Duration retry_base, RecordFn record);
  ~Notifier();

  // Replaces the Notifications `owner` declares.
  void SetFor(const std::string& owner, std::vector<NotificationSpec> specs);
  // Queues the alert for every Notification that wants it, unless an identical alert
  // (same trigger, app and subject) was queued for it within its rate limit.
  void Dispatch(const Alert& alert);
  // Stops the delivery thread; undelivered alerts are dropped (and said so in the log).
  void Stop();

 private:
  struct Job {
    NotificationSpec spec;
    Alert alert;
  };
  void Run();
  Status Deliver(const NotificationSpec& spec, const Alert& alert);

  Duration retry_base_;
  RecordFn record_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, std::vector<NotificationSpec>> specs_;  // by owner
  std::map<std::string, int64_t> last_sent_;                    // rate-limit key -> ms
  std::deque<Job> queue_;
  std::thread thread_;
};

}  // namespace plumb::engine
