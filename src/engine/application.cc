#include "engine/application.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cstdint>
#include <unordered_map>

#include "core/strings.h"
#include "resource/codec.h"

namespace plumb::engine {
namespace {
using resource::Value;

bool GetBool(const Value* obj, const char* key, bool fallback) {
  const Value* v = obj ? obj->Find(key) : nullptr;
  return v && v->is_bool() ? v->as_bool() : fallback;
}

Status CheckBool(const Value* obj, const char* key, const std::string& where) {
  const Value* v = obj ? obj->Find(key) : nullptr;
  if (v && !v->is_bool() && !v->is_null())
    return InvalidArgument(where + "." + key + " must be true or false, not a " + v->TypeName());
  return Status::Ok();
}

Status CheckString(const Value* obj, const char* key, const std::string& where) {
  const Value* v = obj ? obj->Find(key) : nullptr;
  if (v && !v->is_string() && !v->is_null())
    return InvalidArgument(where + "." + key + " must be a string, not a " + v->TypeName());
  return Status::Ok();
}
}  // namespace

bool IsApplication(const resource::ResourceId& id) {
  return id.group == kApiGroup && id.kind == "Application";
}

bool IsImageAutomation(const resource::ResourceId& id) {
  return id.group == kApiGroup && (id.kind == "ImageRepository" || id.kind == "ImagePolicy" ||
                                   id.kind == "ImageUpdateAutomation");
}

Value AppSpec::ToValue() const {
  Value v;
  v.Set("name", name);
  v.Set("parent", parent);
  Value& source = v.Set("source", Value::EmptyObject());
  source.Set("repo", repo);
  source.Set("branch", branch);
  source.Set("path", path);
  if (verify.enabled()) {
    Value& vv = source.Set("verify", Value::EmptyObject());
    vv.Set("mode", verify.mode);
    Value& keys = vv.Set("keys", Value::EmptyArray());
    for (const auto& k : verify.keys) {
      Value item;
      item.Set(k.type == source::TrustedKey::Type::kSsh ? "ssh" : "pgp", k.key);
      keys.Append(std::move(item));
    }
  }
  Value& t = v.Set("target", Value::EmptyObject());
  t.Set("local", Value::EmptyObject()).Set("root", local_root);
  if (kubernetes) {
    Value& k = t.Set("kubernetes", Value::EmptyObject());
    k.Set("kubeconfig", kubernetes->kubeconfig);
    k.Set("context", kubernetes->context);
    k.Set("namespace", kubernetes->ns);
  }
  Value& s = v.Set("sync", Value::EmptyObject());
  s.Set("auto", sync.automated);
  s.Set("prune", sync.prune);
  s.Set("selfHeal", sync.self_heal);
  s.Set("suspend", sync.suspend);
  s.Set("interval", FormatDuration(sync.interval));
  v.Set("allowPlaintextSecrets", allow_plaintext_secrets);
  if (scan_policy != "block") v.Set("scan", Value::EmptyObject()).Set("policy", scan_policy);
  if (!promotion.from.empty()) {
    Value& p = v.Set("promotion", Value::EmptyObject());
    p.Set("from", promotion.from);
    p.Set("auto", promotion.automated);
    p.Set("after", FormatDuration(promotion.after));
  }
  return v;
}

std::string SourceVerify::Fingerprint() const {
  std::string all = mode;
  for (const auto& k : keys)
    all += std::string(k.type == source::TrustedKey::Type::kSsh ? "\nssh:" : "\npgp:") +
           Sha256Hex(k.key);
  return Sha256Hex(all);
}

source::TrustedKey TrustedKeyFromText(const std::string& text) {
  bool pgp = text.find("-----BEGIN PGP PUBLIC KEY BLOCK-----") != std::string::npos;
  return {pgp ? source::TrustedKey::Type::kPgp : source::TrustedKey::Type::kSsh, text};
}

namespace {
// spec.source.verify {mode: head|tag, keys: [{ssh: "..."} | {pgp: "..."}]}.
Status ReadVerify(const Value& v, const std::string& where, SourceVerify* out) {
  if (v.is_null()) return Status::Ok();
  if (!v.is_object()) return InvalidArgument(where + " must be a map");
  RETURN_IF_ERROR(CheckString(&v, "mode", where));
  std::string mode = v.GetString("mode", "head");
  for (char& c : mode) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (mode != "head" && mode != "tag")
    return InvalidArgument(where + ".mode must be head or tag, not " + v.GetString("mode"));
  const Value* keys = v.Find("keys");
  if (!keys || !keys->is_array() || keys->as_array().empty())
    return InvalidArgument(where + ".keys must list at least one key ({ssh: ...} or {pgp: ...})");
  SourceVerify sv;
  sv.mode = mode;
  size_t i = 0;
  for (const Value& k : keys->as_array()) {
    std::string at = where + ".keys[" + std::to_string(i++) + "]";
    const Value* ssh = k.is_object() ? k.Find("ssh") : nullptr;
    const Value* pgp = k.is_object() ? k.Find("pgp") : nullptr;
    if ((ssh == nullptr) == (pgp == nullptr) || (ssh && !ssh->is_string()) ||
        (pgp && !pgp->is_string()))
      return InvalidArgument(at +
                             " must be {ssh: \"ssh-ed25519 AAAA...\"} or {pgp: \"-----BEGIN "
                             "PGP PUBLIC KEY BLOCK-----...\"}");
    if (ssh) {
      sv.keys.push_back({source::TrustedKey::Type::kSsh, ssh->as_string()});
    } else {
      if (pgp->as_string().find("-----BEGIN PGP PUBLIC KEY BLOCK-----") == std::string::npos)
        return InvalidArgument(at +
                               ".pgp must be an ASCII-armored public key (gpg --armor --export)");
      sv.keys.push_back({source::TrustedKey::Type::kPgp, pgp->as_string()});
    }
  }
  *out = std::move(sv);
  return Status::Ok();
}

// Reads the `spec` shape shared by manifests and stored specs.
Status ReadSpec(const Value& spec, const std::string& where, AppSpec* out) {
  if (!spec.is_object()) return InvalidArgument(where + " must be a map");
  const Value* source = spec.Find("source");
  if (source && !source->is_object()) return InvalidArgument(where + ".source must be a map");
  for (const char* k : {"repo", "branch", "path", "repoURL", "targetRevision"})
    RETURN_IF_ERROR(CheckString(source, k, where + ".source"));
  if (source) {
    out->repo = source->GetString("repo", source->GetString("repoURL", out->repo));
    out->branch = source->GetString("branch", source->GetString("targetRevision", out->branch));
    out->path = source->GetString("path", out->path);
    if (const Value* verify = source->Find("verify"))
      RETURN_IF_ERROR(ReadVerify(*verify, where + ".source.verify", &out->verify));
  }
  if (const Value* target = spec.FindPath({"target", "local"})) {
    RETURN_IF_ERROR(CheckString(target, "root", where + ".target.local"));
    out->local_root = target->GetString("root", out->local_root);
  }
  if (const Value* kube = spec.FindPath({"target", "kubernetes"}); kube && !kube->is_null()) {
    if (!kube->is_object()) return InvalidArgument(where + ".target.kubernetes must be a map");
    for (const char* k : {"kubeconfig", "context", "namespace"})
      RETURN_IF_ERROR(CheckString(kube, k, where + ".target.kubernetes"));
    for (const auto& [k, v] : kube->as_object())
      if (k != "kubeconfig" && k != "context" && k != "namespace")
        return InvalidArgument(where + ".target.kubernetes." + k +
                               ": unknown field (kubeconfig, context, namespace)");
    out->kubernetes = target::KubernetesRef{.kubeconfig = kube->GetString("kubeconfig"),
                                            .context = kube->GetString("context"),
                                            .ns = kube->GetString("namespace")};
  }
  const Value* sync = spec.Find("sync");
  if (sync && !sync->is_object()) return InvalidArgument(where + ".sync must be a map");
  for (const char* k : {"auto", "prune", "selfHeal", "suspend"})
    RETURN_IF_ERROR(CheckBool(sync, k, where + ".sync"));
  out->sync.automated = GetBool(sync, "auto", out->sync.automated);
  out->sync.prune = GetBool(sync, "prune", out->sync.prune);
  out->sync.self_heal = GetBool(sync, "selfHeal", out->sync.self_heal);
  out->sync.suspend = GetBool(sync, "suspend", out->sync.suspend);
  if (const Value* iv = sync ? sync->Find("interval") : nullptr) {
    if (!iv->is_string() && !iv->is_int())
      return InvalidArgument(where + ".sync.interval must be a duration like 30s or 1m");
    std::string text = iv->is_int() ? std::to_string(iv->as_int()) : iv->as_string();
    auto d = ParseDuration(text);
    if (!d.ok()) return d.status().WithContext(where + ".sync.interval");
    if (d->count() < 1) return InvalidArgument(where + ".sync.interval must be positive");
    out->sync.interval = *d;
  }
  if (const Value* promo = spec.Find("promotion"); promo && !promo->is_null()) {
    if (!promo->is_object()) return InvalidArgument(where + ".promotion must be a map");
    RETURN_IF_ERROR(CheckString(promo, "from", where + ".promotion"));
    RETURN_IF_ERROR(CheckBool(promo, "auto", where + ".promotion"));
    out->promotion.from = promo->GetString("from", out->promotion.from);
    out->promotion.automated = GetBool(promo, "auto", out->promotion.automated);
    if (out->promotion.from.empty())
      return InvalidArgument(where + ".promotion.from is missing: the environment to promote from");
    if (const Value* after = promo->Find("after")) {
      if (!after->is_string())
        return InvalidArgument(where + ".promotion.after must be a duration like 10m");
      auto d = ParseDuration(after->as_string());
      if (!d.ok()) return d.status().WithContext(where + ".promotion.after");
      out->promotion.after = *d;
    }
  }
  RETURN_IF_ERROR(CheckBool(&spec, "allowPlaintextSecrets", where));
  out->allow_plaintext_secrets =
      GetBool(&spec, "allowPlaintextSecrets", out->allow_plaintext_secrets);
  if (const Value* scan = spec.Find("scan"); scan && !scan->is_null()) {
    if (!scan->is_object()) return InvalidArgument(where + ".scan must be a map");
    RETURN_IF_ERROR(CheckString(scan, "policy", where + ".scan"));
    std::string policy = scan->GetString("policy", "block");
    if (policy != "block" && policy != "warn" && policy != "off")
      return InvalidArgument(where + ".scan.policy must be block, warn or off, not " + policy);
    out->scan_policy = policy;
  }
  return Status::Ok();
}
}  // namespace

Result<AppSpec> AppSpec::FromValue(const Value& v) {
  AppSpec s;
  s.name = v.GetString("name");
  s.parent = v.GetString("parent");
  RETURN_IF_ERROR(ReadSpec(v, "spec", &s));
  return s;
}

Result<AppSpec> AppSpecFromResource(const resource::Resource& r, const AppSpec& parent) {
  std::string where = r.origin().ToString() + ": Application " + r.id().name;
  AppSpec s;
  s.name = r.id().name;
  s.parent = parent.name;
  s.repo = parent.repo;
  s.branch = parent.branch;
  s.local_root = parent.local_root;  // children deploy beside their parent unless told
  s.path = "";
  const Value* spec = r.body().Find("spec");
  if (!spec) return InvalidArgument(where + ": spec is missing");
  Status st = ReadSpec(*spec, "spec", &s);
  if (!st.ok()) return st.WithContext(where);
  if (s.path.empty()) return InvalidArgument(where + ": spec.source.path is missing");
  // A child following its parent's repository and branch is held to the parent's
  // signatures unless it says otherwise: a trusted parent cannot declare an untrusted
  // view of the same history.
  if (!s.verify.enabled() && parent.verify.enabled() && s.repo == parent.repo &&
      s.branch == parent.branch)
    s.verify = parent.verify;
  if (s.name == parent.name)
    return InvalidArgument(where + ": an Application cannot have its parent's name");
  return s;
}

namespace {
int64_t IntOr(const Value* v) { return v && v->is_int() ? v->as_int() : 0; }
}  // namespace

struct ResourceStatusList::Data {
  struct Ref {  // a string of `text`
    uint32_t off = 0;
    uint32_t len = 0;
  };
  // The origin is `file`, or "file:line" when line > 0 (see SplitOrigin).
  struct Row {
    Ref group, kind, ns, name, sync, health, message, file;
    uint32_t line = 0;
  };
  std::string text;
  std::vector<Row> rows;

  std::string_view At(Ref r) const { return std::string_view(text).substr(r.off, r.len); }
  std::string Origin(const Row& r) const {
    std::string out(At(r.file));
    if (r.line) out += ':' + std::to_string(r.line);
    return out;
  }
  ResourceStatus Unpack(const Row& r) const {
    ResourceStatus s;
    s.id = {std::string(At(r.group)), std::string(At(r.kind)), std::string(At(r.ns)),
            std::string(At(r.name))};
    s.sync = At(r.sync);
    s.health = At(r.health);
    s.message = At(r.message);
    s.origin = Origin(r);
    return s;
  }
};

namespace {
// An origin's text as (file, line): "a.yaml:12" is ("a.yaml", 12) when the part after the
// last ':' is a positive number written as Origin::ToString writes it; anything else is
// (text, 0). Either way file + ":" + line gives the text back.
std::pair<std::string_view, uint32_t> SplitOrigin(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size() || text[colon + 1] == '0')
    return {text, 0};
  uint32_t line = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data() + colon + 1, end, line);
  if (ec != std::errc() || p != end || line > INT32_MAX) return {text, 0};
  return {text.substr(0, colon), line};
}
}  // namespace

// Packs rows into a new Data: the strings that repeat from row to row once each.
class ResourceStatusList::Packer {
 public:
  using Ref = Data::Ref;
  explicit Packer(size_t rows_hint) : data_(std::make_shared<Data>()) {
    data_->rows.reserve(rows_hint);
  }

  void Add(std::string_view group, std::string_view kind, std::string_view ns,
           std::string_view name, std::string_view sync, std::string_view health,
           std::string_view message, std::string_view file, uint32_t line) {
    data_->rows.push_back({.group = Shared(group),
                           .kind = Shared(kind),
                           .ns = Shared(ns),
                           .name = Own(name),
                           .sync = Shared(sync),
                           .health = Shared(health),
                           .message = Shared(message),
                           .file = Shared(file),
                           .line = line});
  }
  void AddRow(const Data& from, const Data::Row& r) {
    Add(from.At(r.group), from.At(r.kind), from.At(r.ns), from.At(r.name), from.At(r.sync),
        from.At(r.health), from.At(r.message), from.At(r.file), r.line);
  }
  void AddStatus(const ResourceStatus& s) {
    auto [file, line] = SplitOrigin(s.origin);
    Add(s.id.group, s.id.kind, s.id.ns, s.id.name, s.sync, s.health, s.message, file, line);
  }
  std::shared_ptr<const Data> Finish() {
    interned_.clear();
    data_->text.shrink_to_fit();
    data_->rows.shrink_to_fit();
    return std::move(data_);
  }

 private:
  // Appends `s` to the text. Past 4 GiB of text (never near: 100,000 rows take a few MB)
  // a string is kept empty rather than wrong.
  Ref Own(std::string_view s) {
    if (s.empty() || data_->text.size() + s.size() > UINT32_MAX) return {};
    Ref r{static_cast<uint32_t>(data_->text.size()), static_cast<uint32_t>(s.size())};
    data_->text.append(s);
    return r;
  }
  Ref Shared(std::string_view s) {
    if (s.empty()) return {};
    auto it = interned_.find(s);
    if (it != interned_.end()) return it->second;
    Ref r = Own(s);
    interned_.emplace(std::string(s), r);
    return r;
  }
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::shared_ptr<Data> data_;
  std::unordered_map<std::string, Ref, Hash, std::equal_to<>> interned_;
};

ResourceStatusList::ResourceStatusList(const std::vector<ResourceStatus>& rows) {
  Packer p(rows.size());
  for (const ResourceStatus& r : rows) p.AddStatus(r);
  data_ = p.Finish();
}

size_t ResourceStatusList::size() const { return data_ ? data_->rows.size() : 0; }

ResourceStatus ResourceStatusList::operator[](size_t i) const {
  return data_->Unpack(data_->rows[i]);
}

std::vector<ResourceStatus> ResourceStatusList::rows() const {
  std::vector<ResourceStatus> out;
  if (!data_) return out;
  out.reserve(data_->rows.size());
  for (const Data::Row& r : data_->rows) out.push_back(data_->Unpack(r));
  return out;
}

Value ResourceStatusList::ToValue() const {
  Value list = Value::EmptyArray();
  if (!data_) return list;
  for (const Data::Row& r : data_->rows) {
    Value item;
    item.Set("group", std::string(data_->At(r.group)));
    item.Set("kind", std::string(data_->At(r.kind)));
    item.Set("namespace", std::string(data_->At(r.ns)));
    item.Set("name", std::string(data_->At(r.name)));
    item.Set("sync", std::string(data_->At(r.sync)));
    item.Set("health", std::string(data_->At(r.health)));
    item.Set("message", std::string(data_->At(r.message)));
    item.Set("origin", data_->Origin(r));
    list.Append(std::move(item));
  }
  return list;
}

Status ResourceStatusList::WriteJson(const std::function<Status(std::string_view)>& sink,
                                     size_t piece) const {
  return WriteJson(sink, ResourceFilter{}, nullptr, piece);
}

Status ResourceStatusList::WriteJson(const std::function<Status(std::string_view)>& sink,
                                     const ResourceFilter& filter, size_t* matched,
                                     size_t piece) const {
  // The text resource::ToJson(ToValue()) gives, without building the tree or, in pieces,
  // the whole text: 100,000 rows are 17 MB of it.
  static constexpr const char* kFields[] = {
      ",\"kind\":",   ",\"namespace\":", ",\"name\":",  ",\"sync\":",
      ",\"health\":", ",\"message\":",   ",\"origin\":"};
  if (matched) *matched = 0;
  if (!data_) return sink("[]");
  const bool all = filter.all();
  size_t n = 0, written = 0;
  std::string out;
  out.reserve(piece + 1024);
  out += '[';
  bool first = true;
  for (const Data::Row& r : data_->rows) {  // by reference: a ?: with a temporary copied them all
    if (!all) {
      if (!filter.Matches(data_->At(r.sync), data_->At(r.health))) continue;
      if (n++ < filter.offset || written == filter.limit) continue;
      ++written;
    }
    if (!first) out += ',';
    first = false;
    out += "{\"group\":";
    out += JsonQuote(data_->At(r.group));
    const Data::Ref values[] = {r.kind, r.ns, r.name, r.sync, r.health, r.message};
    for (size_t f = 0; f < std::size(values); ++f) {
      out += kFields[f];
      out += JsonQuote(data_->At(values[f]));
    }
    out += kFields[6];
    out += JsonQuote(data_->At(r.file));
    if (r.line) {  // ':' and digits need no escaping: inside the quotes
      out.pop_back();
      out += ':' + std::to_string(r.line) + '"';
    }
    out += '}';
    if (out.size() >= piece) {
      RETURN_IF_ERROR(sink(out));
      out.clear();
    }
  }
  out += ']';
  if (matched) *matched = all ? data_->rows.size() : n;
  return sink(out);
}

ResourceSummary ResourceStatusList::Summarize() const {
  ResourceSummary out;
  if (!data_) return out;
  out.total = data_->rows.size();
  // A value is interned once per list (Packer::Shared), so rows with the same value hold
  // the same Ref: counting Refs is counting values. Few distinct values: a flat list.
  using Counts = std::vector<std::pair<Data::Ref, size_t>>;
  auto bump = [](Counts& c, Data::Ref ref) {
    for (auto& [r, n] : c)
      if (r.off == ref.off && r.len == ref.len) return void(++n);
    c.push_back({ref, 1});
  };
  Counts sync, health;
  for (const Data::Row& r : data_->rows) {
    bump(sync, r.sync);
    bump(health, r.health);
  }
  auto named = [&](const Counts& c) {
    std::vector<std::pair<std::string, size_t>> v;
    for (const auto& [r, n] : c) v.push_back({std::string(data_->At(r)), n});
    std::sort(v.begin(), v.end());
    return v;
  };
  out.sync = named(sync);
  out.health = named(health);
  return out;
}

Value ResourceSummary::ToValue() const {
  Value v;
  Value& s = v.Set("sync", Value::EmptyObject());
  for (const auto& [name, n] : sync) s.Set(name, static_cast<int64_t>(n));
  Value& h = v.Set("health", Value::EmptyObject());
  for (const auto& [name, n] : health) h.Set(name, static_cast<int64_t>(n));
  return v;
}

size_t ResourceStatusList::JsonSize() const {
  size_t n = 0;
  (void)WriteJson([&n](std::string_view s) {
    n += s.size();
    return Status::Ok();
  });
  return n;
}

std::string ResourceStatusList::ToJson() const {
  std::string out;
  out.reserve(JsonSize());
  (void)WriteJson([&out](std::string_view s) {
    out += s;
    return Status::Ok();
  });
  return out;
}

ResourceStatusList ResourceStatusList::FromValue(const Value& v) {
  Packer p(v.is_array() ? v.size() : 0);
  if (v.is_array()) {
    for (const Value& item : v.as_array()) {
      const std::string origin = item.GetString("origin");
      auto [file, line] = SplitOrigin(origin);
      p.Add(item.GetString("group"), item.GetString("kind"), item.GetString("namespace"),
            item.GetString("name"), item.GetString("sync", "Unknown"),
            item.GetString("health", "Unknown"), item.GetString("message"), file, line);
    }
  }
  return ResourceStatusList(p.Finish());
}

namespace {
// `origin` as (file, line) the way SplitOrigin reads its text.
std::pair<std::string_view, uint32_t> OriginParts(const resource::Origin& origin,
                                                  std::string* text) {
  if (origin.line > 0) return {origin.file, static_cast<uint32_t>(origin.line)};
  if (origin.line == 0) return SplitOrigin(origin.file);
  *text = origin.ToString();
  return SplitOrigin(*text);
}
}  // namespace

ResourceStatusList::Builder::Builder(const ResourceStatusList& last, size_t rows_hint)
    : last_(last), rows_hint_(rows_hint) {}

ResourceStatusList::Builder::~Builder() = default;

void ResourceStatusList::Builder::Add(const resource::ResourceId& id,
                                      const resource::Origin& origin, std::string_view sync,
                                      std::string_view health, std::string_view message) {
  std::string text;
  auto [file, line] = OriginParts(origin, &text);
  if (!diverged_) {
    if (same_ < last_.size()) {
      const Data& d = *last_.data_;
      const Data::Row& was = d.rows[same_];
      if (d.At(was.name) == id.name && d.At(was.kind) == id.kind && d.At(was.ns) == id.ns &&
          d.At(was.group) == id.group && d.At(was.sync) == sync && d.At(was.health) == health &&
          d.At(was.message) == message && was.line == line && d.At(was.file) == file) {
        ++same_;
        return;
      }
    }
    Diverge();
  }
  packer_->Add(id.group, id.kind, id.ns, id.name, sync, health, message, file, line);
}

void ResourceStatusList::Builder::Diverge() {
  diverged_ = true;
  packer_ = std::make_unique<Packer>(std::max({last_.size(), rows_hint_, same_ + 1}));
  for (size_t i = 0; i < same_; ++i) packer_->AddRow(*last_.data_, last_.data_->rows[i]);
}

ResourceStatusList ResourceStatusList::Builder::Finish() {
  if (!diverged_ && same_ == last_.size()) return last_;
  if (!diverged_) Diverge();  // fewer rows than last's
  return ResourceStatusList(packer_->Finish());
}

namespace {
// The status as the API shows it; `resources` (between lastStagesMs and conditions) only
// when `with` it.
Value StatusValue(const AppStatus& s, const ResourceStatusList* with) {
  Value v;
  v.Set("sync", s.sync);
  v.Set("health", s.health);
  v.Set("healthMessage", s.health_message);
  v.Set("appliedCommit", s.applied_commit);
  v.Set("headCommit", s.head_commit);
  v.Set("verifiedCommit", s.verified_commit);
  v.Set("lastReconcile",
        s.last_reconcile_ms ? FormatTimeRfc3339(FromUnixMillis(s.last_reconcile_ms)) : "");
  v.Set("lastReconcileMs", s.last_reconcile_ms);
  v.Set("lastDurationMs", s.last_duration_ms);
  v.Set("lastError", s.last_error);
  v.Set("phase", s.phase);
  v.Set("consecutiveFailures", s.consecutive_failures);
  Value& stages = v.Set("lastStagesMs", Value::EmptyObject());
  stages.Set("fetch", s.fetch_ms);
  stages.Set("render", s.render_ms);
  stages.Set("plan", s.plan_ms);
  stages.Set("apply", s.apply_ms);
  stages.Set("health", s.health_ms);
  if (with) v.Set("resources", with->ToValue());
  Value conds = Value::EmptyArray();
  for (const auto& c : s.conditions) {
    Value item;
    item.Set("type", c.type);
    item.Set("message", c.message);
    conds.Append(std::move(item));
  }
  v.Set("conditions", std::move(conds));
  return v;
}
}  // namespace

Value AppStatus::ToValue() const { return StatusValue(*this, &resources); }

Value AppStatus::SummaryToValue() const { return StatusValue(*this, nullptr); }

Status AppStatus::WriteJson(const std::function<Status(std::string_view)>& sink,
                            const ResourceFilter* filter) const {
  // StatusValue's fields before `resources` as a Value's text without its closing brace,
  // the rows from the packed list, then the counts and `conditions` as a Value's text
  // without its opening brace.
  Value head = StatusValue(*this, nullptr);
  Value tail;
  tail.Set("resourceCount", static_cast<int64_t>(resources.size()));
  tail.Set("resourceSummary", resources.Summarize().ToValue());
  Value conditions = std::move(*head.Find("conditions"));
  head.Erase("conditions");
  std::string text = resource::ToJson(head);
  text.pop_back();  // '}'
  if (filter) {
    text += ",\"resources\":";
    RETURN_IF_ERROR(sink(text));
    size_t matched = 0;
    RETURN_IF_ERROR(resources.WriteJson(sink, *filter, &matched));
    if (filter->counted || !filter->all())
      tail.Set("resourcesMatched", static_cast<int64_t>(matched));
    text.clear();
  }
  tail.Set("conditions", std::move(conditions));
  std::string rest = resource::ToJson(tail);
  text += ',';
  text.append(rest, 1);  // without '{'
  return sink(text);
}

AppStatus AppStatus::FromValue(const Value& v) {
  AppStatus s;
  s.sync = v.GetString("sync", s.sync);
  s.health = v.GetString("health", s.health);
  s.health_message = v.GetString("healthMessage");
  s.applied_commit = v.GetString("appliedCommit");
  s.head_commit = v.GetString("headCommit");
  s.verified_commit = v.GetString("verifiedCommit");
  if (const Value* x = v.Find("lastReconcileMs"); x && x->is_int())
    s.last_reconcile_ms = x->as_int();
  if (const Value* x = v.Find("lastDurationMs"); x && x->is_int()) s.last_duration_ms = x->as_int();
  if (const Value* x = v.Find("consecutiveFailures"); x && x->is_int())
    s.consecutive_failures = static_cast<int>(x->as_int());
  if (const Value* st = v.Find("lastStagesMs")) {
    s.fetch_ms = IntOr(st->Find("fetch"));
    s.render_ms = IntOr(st->Find("render"));
    s.plan_ms = IntOr(st->Find("plan"));
    s.apply_ms = IntOr(st->Find("apply"));
    s.health_ms = IntOr(st->Find("health"));
  }
  s.last_error = v.GetString("lastError");
  s.phase = v.GetString("phase", "Idle");
  if (s.phase == "Reconciling") s.phase = "Idle";  // a reconcile cut short by a crash
  if (const Value* list = v.Find("resources"); list && list->is_array())
    s.resources = ResourceStatusList::FromValue(*list);
  if (const Value* list = v.Find("conditions"); list && list->is_array())
    for (const Value& item : list->as_array())
      s.conditions.push_back({item.GetString("type"), item.GetString("message")});
  return s;
}

}  // namespace plumb::engine
