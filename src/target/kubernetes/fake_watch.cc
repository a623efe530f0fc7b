#include "core/strings.h"
#include "resource/codec.h"
#include "target/kubernetes/fake_apiserver_impl.h"

namespace plumb::target::kubernetes::testing {

using resource::Value;

void FakeApiServer::Impl::Emit(const std::string& type, const Target& t, const Value& obj) {
  history.push_back({rv, type, t.group, t.info.resource, t.ns, obj});
  cv.notify_all();
}

bool FakeApiServer::Impl::Matches(const WatchEvent& e, const Target& t,
                                  const std::string& selector) {
  return e.group == t.group && e.resource == t.info.resource && (t.ns.empty() || e.ns == t.ns) &&
         MatchesSelector(e.obj.FindPath({"metadata", "labels"}), selector);
}

std::string FakeApiServer::Impl::EventLine(const std::string& type, const Value& obj) {
  Value ev = Value::EmptyObject();
  ev.Set("type", type);
  ev.Set("object", obj);
  return resource::ToJson(ev) + "\n";
}

void FakeApiServer::Impl::Watch(const httplib::Request& req, httplib::Response& res,
                                const Target& t) {
  std::string selector = req.get_param_value("labelSelector");
  std::string from_text = req.get_param_value("resourceVersion");
  bool bookmarks = req.get_param_value("allowWatchBookmarks") == "true";
  int timeout = 0;
  if (req.has_param("timeoutSeconds"))
    timeout = atoi(req.get_param_value("timeoutSeconds").c_str());
  int64_t from = from_text.empty() ? 0 : atoll(from_text.c_str());
  std::vector<std::string> initial;
  if (from == 0) {  // "" or "0": the current state as ADDED events, then changes
    for (const auto& [k, s] : objects) {
      WatchEvent e{0,
                   "ADDED",
                   t.group,
                   t.info.resource,
                   s.obj.FindPath({"metadata", "namespace"})
                       ? s.obj.FindPath({"metadata", "namespace"})->as_string()
                       : "",
                   s.obj};
      if (StartsWith(k, t.group + "|" + t.info.resource + "|") && Matches(e, t, selector))
        initial.push_back(EventLine("ADDED", s.obj));
    }
    from = rv;
  } else if (from < compacted) {
    initial.push_back(EventLine("ERROR", StatusBody(410, "Expired",
                                                    "too old resource version: " + from_text +
                                                        " (" + std::to_string(compacted) + ")")));
    from = -1;  // end after the error, as the real server does
  }
  int epoch = watch_epoch;
  std::string kind = t.info.kind,
              api_version = t.group.empty() ? t.version : t.group + "/" + t.version;
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(timeout > 0 ? timeout : 1800);
  res.status = 200;
  res.set_chunked_content_provider(
      "application/json", [this, t, selector, initial, from, epoch, deadline, bookmarks, timeout,
                           kind, api_version](size_t, httplib::DataSink& sink) mutable {
        for (const std::string& line : initial)
          if (!sink.write(line.data(), line.size())) return false;
        initial.clear();
        int64_t next = from;
        while (next >= 0) {
          std::vector<std::string> lines;
          {
            std::unique_lock<std::mutex> lock(mu);
            cv.wait_for(lock, std::chrono::milliseconds(50));
            if (stopping || watch_epoch != epoch) break;
            for (const WatchEvent& e : history)
              if (e.rv > next && Matches(e, t, selector)) lines.push_back(EventLine(e.type, e.obj));
            next = std::max(next, rv);
          }
          for (const std::string& line : lines)
            if (!sink.write(line.data(), line.size())) return false;
          if (!sink.is_writable()) return false;
          if (std::chrono::steady_clock::now() >= deadline) {
            if (bookmarks && timeout > 0) {
              Value bm = Value::EmptyObject();
              bm.Set("kind", kind);
              bm.Set("apiVersion", api_version);
              Value md = Value::EmptyObject();
              md.Set("resourceVersion", std::to_string(next));
              md.Set("creationTimestamp", nullptr);
              bm.Set("metadata", md);
              std::string line = EventLine("BOOKMARK", bm);
              sink.write(line.data(), line.size());
            }
            break;
          }
        }
        sink.done();
        return true;
      });
}

}  // namespace plumb::target::kubernetes::testing
