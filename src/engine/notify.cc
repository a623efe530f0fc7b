#include "engine/notify.h"

#include <httplib.h>

#include <algorithm>

#include "core/log.h"
#include "core/strings.h"
#include "engine/application.h"
#include "resource/codec.h"

namespace plumb::engine {
using resource::Value;

bool IsNotification(const resource::ResourceId& id) {
  return id.group == kApiGroup && id.kind == "Notification";
}

namespace {
Status Bad(const resource::Resource& r, const std::string& what) {
  return InvalidArgument(r.origin().ToString() + ": Notification " + r.id().name + ": " + what);
}

Result<std::vector<std::string>> StringList(const resource::Resource& r, const Value* v,
                                            const std::string& field) {
  std::vector<std::string> out;
  if (!v || v->is_null()) return out;
  if (!v->is_array()) return Bad(r, field + " must be a list of strings");
  for (const Value& item : v->as_array()) {
    if (!item.is_string()) return Bad(r, field + " must be a list of strings");
    out.push_back(item.as_string());
  }
  return out;
}

// True when `s` would break an HTTP request line or header.
bool HasSpaceOrControl(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
}

// The value of `provider.<field>` = {secretKeyRef: {name, key}} from the Secret in
// `desired`; `*source` becomes "Secret NAME/KEY" for messages. Errors never hold a value.
Result<std::string> FromSecret(const resource::Resource& r, const Value& from,
                               const std::string& field,
                               const std::vector<resource::Resource>& desired,
                               std::string* source) {
  const std::string where = "spec.provider." + field;
  const Value* ref = from.is_object() ? from.Find("secretKeyRef") : nullptr;
  if (!ref || !ref->is_object() || ref->GetString("name").empty() || ref->GetString("key").empty())
    return Bad(r, where + " must be {secretKeyRef: {name, key}}");
  const std::string name = ref->GetString("name");
  const std::string key = ref->GetString("key");
  *source = "Secret " + name + "/" + key;
  const resource::Resource* secret = nullptr;
  for (const auto& d : desired)
    if (d.id().kind == "Secret" && d.id().name == name && d.id().ns == r.id().ns) secret = &d;
  if (!secret) return Bad(r, where + ": Secret " + name + " is not in this Application's path");
  auto value = resource::SecretValue(secret->body(), key);  // stringData over decoded data
  if (value.status().code() == Code::kNotFound)
    return Bad(r, where + ": Secret " + name + " has no key " + key);
  if (!value.ok()) return Bad(r, where + ": " + *source + " is not valid base64");
  return Trim(*value);
}
}  // namespace

Result<NotificationSpec> NotificationFromResource(const resource::Resource& r,
                                                  const std::string& owner,
                                                  const std::vector<resource::Resource>& desired) {
  NotificationSpec n;
  n.name = r.id().name;
  n.owner = owner;
  const Value* spec = r.body().Find("spec");
  if (!spec || !spec->is_object()) return Bad(r, "spec is missing");
  const Value* provider = spec->Find("provider");
  if (!provider || !provider->is_object()) return Bad(r, "spec.provider {type, url} is required");
  n.type = provider->GetString("type", "webhook");
  if (n.type != "webhook" && n.type != "slack")
    return Bad(r, "spec.provider.type \"" + n.type + "\" is not webhook or slack");
  const Value* url_from = provider->Find("urlFrom");
  if (url_from && !url_from->is_null()) {
    if (provider->Find("url")) return Bad(r, "spec.provider: set either url or urlFrom, not both");
    std::string source;
    ASSIGN_OR_RETURN(n.url, FromSecret(r, *url_from, "urlFrom", desired, &source));
    if (!StartsWith(n.url, "http://") && !StartsWith(n.url, "https://"))
      return Bad(r, "spec.provider.urlFrom: the URL from " + source +
                        " must be an http:// or https:// URL");
    if (HasSpaceOrControl(n.url))
      return Bad(r, "spec.provider.urlFrom: the URL from " + source +
                        " holds a space or control character");
  } else {
    n.url = provider->GetString("url");
    if (n.url.empty()) return Bad(r, "spec.provider needs url or urlFrom");
    if (!StartsWith(n.url, "http://") && !StartsWith(n.url, "https://"))
      return Bad(r, "spec.provider.url must be an http:// or https:// URL");
  }
  if (const Value* token_from = provider->Find("tokenFrom"); token_from && !token_from->is_null()) {
    std::string source;
    ASSIGN_OR_RETURN(n.token, FromSecret(r, *token_from, "tokenFrom", desired, &source));
    if (n.token.empty())
      return Bad(r, "spec.provider.tokenFrom: the token from " + source + " is empty");
    if (HasSpaceOrControl(n.token))
      return Bad(r, "spec.provider.tokenFrom: the token from " + source +
                        " holds a space or control character (not allowed in a bearer token)");
  }
  ASSIGN_OR_RETURN(n.triggers, StringList(r, spec->Find("triggers"), "spec.triggers"));
  if (n.triggers.empty()) return Bad(r, "spec.triggers must name at least one trigger");
  for (const auto& t : n.triggers) {
    if (std::find(std::begin(kTriggers), std::end(kTriggers), t) == std::end(kTriggers))
      return Bad(r, "spec.triggers: unknown trigger \"" + t +
                        "\" (known: SyncSucceeded, SyncFailed, HealthDegraded, HealthRecovered, "
                        "DriftDetected, Promoted, PromotionBlocked, ComparisonError)");
  }
  ASSIGN_OR_RETURN(n.apps, StringList(r, spec->Find("applications"), "spec.applications"));
  n.min_severity = spec->GetString("severity", "info");
  if (n.min_severity != "info" && n.min_severity != "warning")
    return Bad(r, "spec.severity must be info or warning");
  if (const Value* rl = spec->Find("rateLimit"); rl && !rl->is_null()) {
    if (!rl->is_string()) return Bad(r, "spec.rateLimit must be a duration like 5m");
    auto d = ParseDuration(rl->as_string());
    if (!d.ok()) return Bad(r, "spec.rateLimit: " + d.status().message());
    n.rate_limit = *d;
  }
  if (const Value* ma = spec->Find("maxAttempts"); ma && !ma->is_null()) {
    if (!ma->is_int() || ma->as_int() < 1 || ma->as_int() > 20)
      return Bad(r, "spec.maxAttempts must be a number from 1 to 20");
    n.max_attempts = static_cast<int>(ma->as_int());
  }
  return n;
}

Notifier::Notifier(Duration retry_base, RecordFn record)
    : retry_base_(retry_base), record_(std::move(record)) {
  thread_ = std::thread([this] { Run(); });
}

Notifier::~Notifier() { Stop(); }

void Notifier::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    if (!queue_.empty())
      log::Warn("notifications not delivered before stop",
                {{"count", std::to_string(queue_.size())}});
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Notifier::SetFor(const std::string& owner, std::vector<NotificationSpec> specs) {
  std::lock_guard<std::mutex> l(mu_);
  if (specs.empty())
    specs_.erase(owner);
  else
    specs_[owner] = std::move(specs);
}

void Notifier::Dispatch(const Alert& alert) {
  std::lock_guard<std::mutex> l(mu_);
  if (stopping_) return;
  for (const auto& [owner, list] : specs_) {
    for (const auto& spec : list) {
      if (std::find(spec.triggers.begin(), spec.triggers.end(), alert.trigger) ==
          spec.triggers.end())
        continue;
      bool app_ok = spec.apps.empty() ||
                    std::find(spec.apps.begin(), spec.apps.end(), "*") != spec.apps.end() ||
                    std::find(spec.apps.begin(), spec.apps.end(), alert.app) != spec.apps.end();
      if (!app_ok) continue;
      if (spec.min_severity == "warning" && alert.severity != "warning") continue;
      std::string key = owner + "\x1f" + spec.name + "\x1f" + alert.trigger + "\x1f" + alert.app +
                        "\x1f" + (alert.subject.empty() ? alert.message : alert.subject);
      auto it = last_sent_.find(key);
      if (it != last_sent_.end() && alert.time_ms - it->second < spec.rate_limit.count()) continue;
      last_sent_[key] = alert.time_ms;
      queue_.push_back({spec, alert});
    }
  }
  if (last_sent_.size() > 10000) last_sent_.clear();  // bounded memory; worst case a repeat
  cv_.notify_all();
}

void Notifier::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    Status last;
    int attempt = 1;
    for (; attempt <= job.spec.max_attempts; ++attempt) {
      l.unlock();
      last = Deliver(job.spec, job.alert);
      l.lock();
      if (last.ok() || stopping_) break;
      if (attempt == job.spec.max_attempts) break;
      Duration wait = retry_base_ * (1 << std::min(attempt - 1, 10));
      cv_.wait_for(l, wait, [&] { return stopping_; });
      if (stopping_) break;
    }
    std::string what = job.alert.trigger + " for " + job.alert.app + " to " + job.spec.name + " (" +
                       job.spec.type + ")";
    l.unlock();
    if (last.ok()) {
      record_(
          job.alert.app, "Normal", "NotificationSent",
          "sent " + what + (attempt > 1 ? " after " + std::to_string(attempt) + " attempts" : ""));
    } else {
      record_(job.alert.app, "Warning", "NotificationFailed",
              "could not send " + what + " after " + std::to_string(attempt) +
                  " attempts: " + last.message());
    }
    l.lock();
  }
}

Status Notifier::Deliver(const NotificationSpec& spec, const Alert& alert) {
  Value body;
  if (spec.type == "slack") {
    std::string icon = alert.severity == "warning" ? ":warning:" : ":white_check_mark:";
    body.Set("text",
             icon + " *" + alert.trigger + "* `" + alert.app + "`" +
                 (alert.revision.empty() ? "" : " at `" + alert.revision.substr(0, 7) + "`") +
                 ": " + alert.message);
  } else {
    body.Set("trigger", alert.trigger);
    body.Set("app", alert.app);
    body.Set("severity", alert.severity);
    body.Set("message", alert.message);
    body.Set("revision", alert.revision);
    body.Set("time", FormatTimeRfc3339(FromUnixMillis(alert.time_ms)));
    body.Set("notification", spec.name);
  }
  // Split the URL into scheme://host[:port] and the path for the client.
  size_t scheme_end = spec.url.find("://");
  size_t path_start = spec.url.find('/', scheme_end + 3);
  std::string base = spec.url.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "/" : spec.url.substr(path_start);
  httplib::Client client(base);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);
  client.set_write_timeout(10, 0);
  httplib::Headers headers;
  if (!spec.token.empty()) headers.emplace("Authorization", "Bearer " + spec.token);
  auto res = client.Post(path, headers, resource::ToJson(body), "application/json");
  if (!res) return Unavailable("connection failed: " + httplib::to_string(res.error()));
  if (res->status < 200 || res->status >= 300)
    return Unavailable("the receiver answered HTTP " + std::to_string(res->status));
  return Status::Ok();
}

}  // namespace plumb::engine
