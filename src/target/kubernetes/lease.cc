#include "target/kubernetes/lease.h"

#include <thread>

#include "core/log.h"
#include "resource/codec.h"

namespace plumb::target::kubernetes {

using resource::Value;

std::string FormatMicroTime(TimePoint t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(us / 1000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[48];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof buf - n, ".%06lldZ", static_cast<long long>(us % 1000000));
  return buf;
}

LeaderElector::LeaderElector(KubeClient* client, LeaseOptions options, const Clock* clock)
    : client_(client), o_(std::move(options)), clock_(clock) {}

Result<bool> LeaderElector::TryAcquireOrRenew() {
  std::string collection = "/apis/coordination.k8s.io/v1/namespaces/" + o_.ns + "/leases";
  std::string path = collection + "/" + o_.name;
  std::string query = "fieldManager=" + QueryEscape(o_.field_manager);
  TimePoint now = clock_->Now();
  std::string now_text = FormatMicroTime(now);
  auto lease = client_->DoJson({.path = path});
  if (!lease.ok() && lease.status().code() != Code::kNotFound) return lease.status();
  if (!lease.ok()) {
    Value body = Value::EmptyObject();
    body.Set("apiVersion", "coordination.k8s.io/v1");
    body.Set("kind", "Lease");
    Value md = Value::EmptyObject();
    md.Set("name", o_.name);
    md.Set("namespace", o_.ns);
    body.Set("metadata", md);
    Value spec = Value::EmptyObject();
    spec.Set("holderIdentity", o_.identity);
    spec.Set("leaseDurationSeconds", static_cast<int64_t>(o_.lease_duration.count() / 1000));
    spec.Set("acquireTime", now_text);
    spec.Set("renewTime", now_text);
    spec.Set("leaseTransitions", 0);
    body.Set("spec", spec);
    ASSIGN_OR_RETURN(HttpResponse r, client_->Do({.method = "POST",
                                                  .path = collection,
                                                  .query = query,
                                                  .content_type = "application/json",
                                                  .body = resource::ToJson(body)}));
    if (r.status == 201) return true;
    if (r.status == 409) return false;  // another replica created it first
    return StatusFromResponse(r, "create Lease " + o_.name);
  }
  Value obj = std::move(*lease);
  Value* spec = obj.Find("spec");
  if (!spec || !spec->is_object()) spec = &obj.Set("spec", Value::EmptyObject());
  std::string holder = spec->GetString("holderIdentity");
  std::string record = holder + "|" + spec->GetString("renewTime");
  if (record != observed_record_) {
    observed_record_ = record;
    observed_at_ = now;
  }
  const Value* secs = spec->Find("leaseDurationSeconds");
  Duration duration = secs && secs->is_int() ? Duration(secs->as_int() * 1000) : o_.lease_duration;
  if (!holder.empty() && holder != o_.identity && now < observed_at_ + duration) return false;
  if (holder != o_.identity) {
    spec->Set("acquireTime", now_text);
    const Value* t = spec->Find("leaseTransitions");
    spec->Set("leaseTransitions", (t && t->is_int() ? t->as_int() : 0) + (holder.empty() ? 0 : 1));
    spec->Set("holderIdentity", o_.identity);
  }
  spec->Set("renewTime", now_text);
  spec->Set("leaseDurationSeconds", static_cast<int64_t>(o_.lease_duration.count() / 1000));
  if (Value* md = obj.Find("metadata")) md->Erase("managedFields");
  ASSIGN_OR_RETURN(HttpResponse r, client_->Do({.method = "PUT",
                                                .path = path,
                                                .query = query,
                                                .content_type = "application/json",
                                                .body = resource::ToJson(obj)}));
  if (r.status == 200) {
    observed_record_ = o_.identity + "|" + now_text;
    observed_at_ = now;
    return true;
  }
  if (r.status == 409) return false;  // someone else updated it since our GET
  return StatusFromResponse(r, "update Lease " + o_.name);
}

Status LeaderElector::Release() {
  std::string path = "/apis/coordination.k8s.io/v1/namespaces/" + o_.ns + "/leases/" + o_.name;
  ASSIGN_OR_RETURN(Value obj, client_->DoJson({.path = path}));
  Value* spec = obj.Find("spec");
  if (!spec || spec->GetString("holderIdentity") != o_.identity) return Status::Ok();
  spec->Set("holderIdentity", "");
  spec->Set("renewTime", FormatMicroTime(clock_->Now()));
  if (Value* md = obj.Find("metadata")) md->Erase("managedFields");
  ASSIGN_OR_RETURN(HttpResponse r,
                   client_->Do({.method = "PUT",
                                .path = path,
                                .query = "fieldManager=" + QueryEscape(o_.field_manager),
                                .content_type = "application/json",
                                .body = resource::ToJson(obj)}));
  if (r.status != 200 && r.status != 409) return StatusFromResponse(r, "release Lease " + o_.name);
  return Status::Ok();
}

Status LeaderElector::Run(const std::function<void()>& on_started,
                          const std::function<void()>& on_lost, const std::atomic<bool>* stop) {
  bool logged = false;
  while (!stop->load()) {
    auto got = TryAcquireOrRenew();
    if (got.ok() && *got) break;
    if (!got.ok()) {
      log::Warn("leader election: " + got.status().message());
    } else if (!logged) {
      log::Info("leader election: waiting for Lease " + o_.ns + "/" + o_.name);
      logged = true;
    }
    std::this_thread::sleep_for(o_.retry_period);
  }
  if (stop->load()) return Status::Ok();
  log::Info("leader election: leading as " + o_.identity);
  on_started();
  TimePoint last_renew = clock_->Now();
  while (!stop->load()) {
    std::this_thread::sleep_for(o_.retry_period);
    if (stop->load()) break;
    auto got = TryAcquireOrRenew();
    if (got.ok() && *got) {
      last_renew = clock_->Now();
      continue;
    }
    if (clock_->Now() - last_renew >= o_.renew_deadline) {
      log::Error("leader election: lost Lease " + o_.ns + "/" + o_.name);
      on_lost();
      return Aborted("lost the leader Lease");
    }
  }
  Status released = Release();
  if (!released.ok()) log::Warn("leader election: " + released.message());
  return Status::Ok();
}

}  // namespace plumb::target::kubernetes
