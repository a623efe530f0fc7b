// The JSON of DIR/spec.json and DIR/status.json, with the project's value tree.
#include <csignal>

#include "resource/codec.h"
#include "resource/value.h"
#include "target/local/shim.h"

namespace plumb::target::local {
namespace {

using resource::Object;
using resource::Value;

// Typed readers for the JSON files: an absent key keeps the default, a wrong type is an
// error naming the file and key.
class Reader {
 public:
  Reader(const Value& v, const std::string& where) : v_(v), where_(where) {}

  Status Int(const char* key, int64_t* out) const {
    const Value* f = v_.Find(key);
    if (!f) return Status::Ok();
    if (!f->is_int()) return Bad(key, "an integer");
    *out = f->as_int();
    return Status::Ok();
  }
  template <typename T>
  Status Int(const char* key, T* out) const {
    int64_t v = static_cast<int64_t>(*out);
    RETURN_IF_ERROR(Int(key, &v));
    *out = static_cast<T>(v);
    return Status::Ok();
  }
  Status Millis(const char* key, Duration* out) const {
    int64_t v = out->count();
    RETURN_IF_ERROR(Int(key, &v));
    *out = Duration(v);
    return Status::Ok();
  }
  Status String(const char* key, std::string* out) const {
    const Value* f = v_.Find(key);
    if (!f) return Status::Ok();
    if (!f->is_string()) return Bad(key, "a string");
    *out = f->as_string();
    return Status::Ok();
  }
  const Value* Array(const char* key, Status* s) const {
    const Value* f = v_.Find(key);
    if (f && !f->is_array()) *s = Bad(key, "an array");
    return f && f->is_array() ? f : nullptr;
  }
  Status Bad(const std::string& key, const char* want) const {
    return InvalidArgument(where_ + ": " + key + " must be " + want);
  }

 private:
  const Value& v_;
  const std::string& where_;
};

Result<RestartPolicy> ParseRestartPolicy(const std::string& s, const std::string& where) {
  for (RestartPolicy p : {RestartPolicy::kAlways, RestartPolicy::kOnFailure, RestartPolicy::kNever})
    if (s == RestartPolicyName(p)) return p;
  return InvalidArgument(where + ": restart must be Always, OnFailure or Never, not " + s);
}

Result<Value> ParseObject(const std::string& json, const std::string& where) {
  auto v = resource::ParseJson(json, where);
  if (!v.ok()) return v.status();
  if (!v->is_object()) return InvalidArgument(where + ": not a JSON object");
  return std::move(v).value();
}

}  // namespace

const char* RestartPolicyName(RestartPolicy p) {
  switch (p) {
    case RestartPolicy::kAlways:
      return "Always";
    case RestartPolicy::kOnFailure:
      return "OnFailure";
    case RestartPolicy::kNever:
      return "Never";
  }
  return "Always";
}

std::string ShimSpecToJson(const ShimSpec& spec) {
  resource::Array argv, env;
  for (auto& a : spec.argv) argv.emplace_back(a);
  for (auto& [k, v] : spec.env) env.emplace_back(Object{{"name", k}, {"value", v}});
  Value out(Object{
      {"argv", std::move(argv)},
      {"env", std::move(env)},
      {"working_dir", spec.working_dir},
      {"stop_signal", spec.stop_signal},
      {"grace_ms", static_cast<int64_t>(spec.grace.count())},
      {"restart", RestartPolicyName(spec.restart)},
      {"backoff_initial_ms", static_cast<int64_t>(spec.backoff_initial.count())},
      {"backoff_max_ms", static_cast<int64_t>(spec.backoff_max.count())},
      {"backoff_reset_ms", static_cast<int64_t>(spec.backoff_reset.count())},
      {"log_max_bytes", spec.log_max_bytes},
      {"log_files", spec.log_files},
      {"limit_open_files", spec.limit_open_files},
      {"limit_address_space", spec.limit_address_space},
      {"cgroup", spec.cgroup},
  });
  return resource::ToJson(out, 2) + "\n";
}

Result<ShimSpec> ShimSpecFromJson(const std::string& json, const std::string& where) {
  ASSIGN_OR_RETURN(Value v, ParseObject(json, where));
  Reader r(v, where);
  ShimSpec spec;
  Status s;
  if (const Value* argv = r.Array("argv", &s)) {
    for (auto& a : argv->as_array()) {
      if (!a.is_string()) return r.Bad("argv[]", "a string");
      spec.argv.push_back(a.as_string());
    }
  }
  RETURN_IF_ERROR(s);
  if (const Value* env = r.Array("env", &s)) {
    for (auto& e : env->as_array()) {
      const Value* k = e.Find("name");
      const Value* val = e.Find("value");
      if (!k || !k->is_string() || !val || !val->is_string())
        return r.Bad("env[]", "an object with string name and value");
      spec.env.emplace_back(k->as_string(), val->as_string());
    }
  }
  RETURN_IF_ERROR(s);
  std::string restart = RestartPolicyName(spec.restart);
  RETURN_IF_ERROR(r.String("working_dir", &spec.working_dir));
  RETURN_IF_ERROR(r.Int("stop_signal", &spec.stop_signal));
  RETURN_IF_ERROR(r.Millis("grace_ms", &spec.grace));
  RETURN_IF_ERROR(r.String("restart", &restart));
  ASSIGN_OR_RETURN(spec.restart, ParseRestartPolicy(restart, where));
  RETURN_IF_ERROR(r.Millis("backoff_initial_ms", &spec.backoff_initial));
  RETURN_IF_ERROR(r.Millis("backoff_max_ms", &spec.backoff_max));
  RETURN_IF_ERROR(r.Millis("backoff_reset_ms", &spec.backoff_reset));
  RETURN_IF_ERROR(r.Int("log_max_bytes", &spec.log_max_bytes));
  RETURN_IF_ERROR(r.Int("log_files", &spec.log_files));
  RETURN_IF_ERROR(r.Int("limit_open_files", &spec.limit_open_files));
  RETURN_IF_ERROR(r.Int("limit_address_space", &spec.limit_address_space));
  RETURN_IF_ERROR(r.String("cgroup", &spec.cgroup));
  if (spec.argv.empty()) return InvalidArgument(where + ": argv is empty");
  if (spec.stop_signal <= 0 || spec.stop_signal >= NSIG)
    return InvalidArgument(where + ": stop_signal " + std::to_string(spec.stop_signal) +
                           " is not a signal");
  return spec;
}

std::string ShimStatusToJson(const ShimStatus& st) {
  Value out(Object{
      {"shim_pid", st.shim_pid},
      {"shim_start", static_cast<int64_t>(st.shim_start)},
      {"pid", st.pid},
      {"start", static_cast<int64_t>(st.start)},
      {"state", st.state},
      {"restarts", st.restarts},
      {"consecutive_failures", st.consecutive_failures},
      {"started_ms", st.started_ms},
      {"next_start_ms", st.next_start_ms},
      {"last_exit_code", st.last_exit_code},
      {"last_signal", st.last_signal},
      {"last_exit_ms", st.last_exit_ms},
      {"message", st.message},
  });
  return resource::ToJson(out, 2) + "\n";
}

Result<ShimStatus> ShimStatusFromJson(const std::string& json, const std::string& where) {
  ASSIGN_OR_RETURN(Value v, ParseObject(json, where));
  Reader r(v, where);
  ShimStatus st;
  RETURN_IF_ERROR(r.Int("shim_pid", &st.shim_pid));
  RETURN_IF_ERROR(r.Int("shim_start", &st.shim_start));
  RETURN_IF_ERROR(r.Int("pid", &st.pid));
  RETURN_IF_ERROR(r.Int("start", &st.start));
  RETURN_IF_ERROR(r.String("state", &st.state));
  RETURN_IF_ERROR(r.Int("restarts", &st.restarts));
  RETURN_IF_ERROR(r.Int("consecutive_failures", &st.consecutive_failures));
  RETURN_IF_ERROR(r.Int("started_ms", &st.started_ms));
  RETURN_IF_ERROR(r.Int("next_start_ms", &st.next_start_ms));
  RETURN_IF_ERROR(r.Int("last_exit_code", &st.last_exit_code));
  RETURN_IF_ERROR(r.Int("last_signal", &st.last_signal));
  RETURN_IF_ERROR(r.Int("last_exit_ms", &st.last_exit_ms));
  RETURN_IF_ERROR(r.String("message", &st.message));
  return st;
}

}  // namespace plumb::target::local
