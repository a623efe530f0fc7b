#include "target/kubernetes/kube_watch.h"

#include "core/log.h"
#include "core/strings.h"

namespace plumb::target::kubernetes {

using resource::ResourceId;
using resource::Value;

namespace {
std::string ResourceVersion(const Value& obj) {
  const Value* rv = obj.FindPath({"metadata", "resourceVersion"});
  return rv && rv->is_string() ? rv->as_string() : "";
}

// Whether an object path is one of this kind's.
bool OfKind(const std::string& path, const ApiResource& info) {
  return StartsWith(path, info.GroupVersionPath() + "/") &&
         path.find("/" + info.resource + "/") != std::string::npos;
}
}  // namespace

bool IsDriftEvent(const std::string& type, const Value& object, const std::string& field_manager) {
  if (type == "DELETED") return true;  // the caller excuses plumbline's own deletes
  if (type != "MODIFIED") return false;
  const Value* mf = object.FindPath({"metadata", "managedFields"});
  if (!mf || !mf->is_array()) return false;
  std::string latest;
  for (const Value& e : mf->as_array()) latest = std::max(latest, e.GetString("time"));
  for (const Value& e : mf->as_array()) {
    if (e.GetString("time") != latest || e.GetString("manager") == field_manager) continue;
    if (e.GetString("subresource") == "status") continue;
    const Value* fields = e.Find("fieldsV1");
    bool status_only =
        fields && fields->is_object() && fields->size() == 1 && fields->Find("f:status");
    if (!status_only) return true;
  }
  return false;
}

KindWatches::KindWatches(KubeClient* client, WatchOptions options, DriftFn on_drift)
    : client_(client), options_(std::move(options)), on_drift_(std::move(on_drift)) {}

KindWatches::~KindWatches() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  client_->CancelWatches();
  for (auto& [k, t] : threads_) t.join();
}

void KindWatches::Ensure(const ApiResource& info) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_) return;
  std::string key = info.group + "/" + info.kind;
  if (threads_.count(key)) return;
  threads_.emplace(key, std::thread([this, info] { Run(info); }));
}

void KindWatches::ExpectDelete(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  expected_deletes_.insert(key);
}

int KindWatches::lists() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lists_;
}

bool KindWatches::Cached(const ApiResource& info, const std::string& path, Value* body,
                         bool* found) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (written_.count(path)) return false;
  auto kind = cache_.find(info.group + "/" + info.kind);
  if (kind == cache_.end() || !kind->second.synced) return false;
  auto it = kind->second.by_path.find(path);
  *found = it != kind->second.by_path.end();
  if (*found) *body = it->second;
  return true;
}

void KindWatches::Wrote(const ApiResource& info, const std::string& path, const std::string& rv) {
  std::lock_guard<std::mutex> lock(mu_);
  auto kind = cache_.find(info.group + "/" + info.kind);
  if (kind != cache_.end() && kind->second.synced) {
    // The event may have come already (or, for a write that changed nothing, never will).
    auto it = kind->second.by_path.find(path);
    if (it == kind->second.by_path.end() ? rv.empty() : ResourceVersion(it->second) == rv) return;
  }
  written_[path] = rv;
}

namespace {
// What the cache keeps of an object: managedFields go (large, and nothing reads them).
Value CacheForm(Value obj, const ApiResource& info) {
  if (Value* md = obj.Find("metadata")) md->Erase("managedFields");
  if (obj.GetString("kind").empty()) {  // list items carry no kind/apiVersion of their own
    obj.Set("kind", info.kind);
    obj.Set("apiVersion", info.ApiVersion());
  }
  return obj;
}
}  // namespace

void KindWatches::Sleep(Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [&] { return stop_; });
}

void KindWatches::Run(ApiResource info) {
  std::string path = info.CollectionPath("");
  std::string kind_key = info.group + "/" + info.kind;
  std::string selector = "labelSelector=" + QueryEscape(options_.label);
  auto stopped = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  };
  while (!stopped()) {
    auto list = client_->DoJson({.path = path, .query = selector});
    {
      std::lock_guard<std::mutex> lock(mu_);
      lists_++;
    }
    if (!list.ok()) {
      log::Warn("kubernetes: listing " + info.kind +
                " for drift failed: " + list.status().message());
      Sleep(options_.retry);
      continue;
    }
    const Value* lrv = list->FindPath({"metadata", "resourceVersion"});
    std::string rv = lrv && lrv->is_string() ? lrv->as_string() : "";
    {
      KindCache fresh;
      fresh.synced = true;
      if (const Value* items = list->Find("items"); items && items->is_array())
        for (const Value& item : items->as_array()) {
          const Value* md = item.Find("metadata");
          if (!md) continue;
          fresh.by_path[info.ObjectPath(md->GetString("namespace"), md->GetString("name"))] =
              CacheForm(item, info);
        }
      std::lock_guard<std::mutex> lock(mu_);
      // Writes the list already shows need no event (it may have come before the watch).
      for (auto w = written_.begin(); w != written_.end();) {
        auto it = fresh.by_path.find(w->first);
        bool shown = it == fresh.by_path.end() ? w->second.empty() && OfKind(w->first, info)
                                               : w->second == ResourceVersion(it->second);
        w = shown ? written_.erase(w) : std::next(w);
      }
      cache_[kind_key] = std::move(fresh);
    }
    for (;;) {
      bool gone = false;
      std::string query = "watch=1&allowWatchBookmarks=true&" + selector +
                          "&resourceVersion=" + QueryEscape(rv) + "&timeoutSeconds=" +
                          std::to_string(std::max<int64_t>(1, options_.timeout.count() / 1000));
      Status s = client_->Watch(path, query, [&](const Value& ev) {
        std::string type = ev.GetString("type");
        const Value* obj = ev.Find("object");
        if (!obj) return true;
        if (type == "ERROR") {
          const Value* code = obj->Find("code");
          gone = code && code->is_int() && code->as_int() == 410;
          return false;
        }
        if (const Value* r = obj->FindPath({"metadata", "resourceVersion"}); r && r->is_string())
          rv = r->as_string();
        if (type == "BOOKMARK") return true;
        const Value* md = obj->Find("metadata");
        if (!md) return true;
        const Value* labels = md->Find("labels");
        std::string app = labels ? labels->GetString(options_.label) : "";
        ResourceId id{info.group, info.kind, md->GetString("namespace"), md->GetString("name")};
        {
          // The cache first: the reconcile a drift starts must see this event.
          std::lock_guard<std::mutex> lock(mu_);
          std::string at = info.ObjectPath(id.ns, id.name);
          KindCache& kc = cache_[kind_key];
          if (type == "DELETED" || app.empty())
            kc.by_path.erase(at);
          else
            kc.by_path[at] = CacheForm(*obj, info);
          auto w = written_.find(at);
          if (w != written_.end() && (w->second.empty() || w->second == rv)) written_.erase(w);
        }
        bool drift = !app.empty() && IsDriftEvent(type, *obj, options_.field_manager);
        if (drift && type == "DELETED") {
          std::lock_guard<std::mutex> lock(mu_);
          // Our prune: the engine's id may have no namespace; match either.
          ResourceId bare = id;
          bare.ns = resource::Key();
          if (expected_deletes_.erase(id.Key()) || expected_deletes_.erase(bare.Key()))
            drift = false;
        }
        if (drift) on_drift_(app, id);
        return !stopped();
      });
      if (stopped() || gone || !s.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        cache_[kind_key].synced = false;  // until the next list
      }
      if (stopped() || gone) break;
      if (!s.ok()) {
        log::Warn("kubernetes: watch of " + info.kind + " ended: " + s.message());
        Sleep(options_.retry);
        break;
      }
      // The server ended the watch (timeoutSeconds): resume from the last version.
    }
  }
}

}  // namespace plumb::target::kubernetes
