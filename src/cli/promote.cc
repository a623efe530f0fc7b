// cli: the pipeline verbs — promote, env list, env diff, images.
#include <cstdio>
#include <iostream>

#include "cli/client.h"

namespace plumb::cli {
using resource::Value;

namespace {
std::string Short(const std::string& sha) { return sha.empty() ? "-" : sha.substr(0, 7); }

std::string QueryEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

void PrintGate(const Value& report) {
  const Value* gate = report.Find("gate");
  if (!report.Find("gateChecked") || !report.Find("gateChecked")->as_bool()) {
    std::cout << "gate: not checked (--ours takes no changes)\n";
    return;
  }
  std::cout << "gate (" << report.GetString("from") << " at " << Short(report.GetString("commit"))
            << "):\n";
  for (const Value& c : gate->Find("checks")->as_array()) {
    bool passed = c.Find("passed") && c.Find("passed")->as_bool();
    std::cout << "  " << (passed ? "ok    " : "FAILED") << "  " << c.GetString("app") << " "
              << c.GetString("reason") << "\n";
  }
}
}  // namespace

int CmdPromote(const ClientOptions& o, const PromoteOptions& p) {
  Value body;
  body.Set("from", p.from);
  body.Set("to", p.to);
  if (!p.app.empty()) body.Set("app", p.app);
  if (!p.commit.empty()) body.Set("commit", p.commit);
  body.Set("ours", p.ours);
  body.Set("force", p.force);
  body.Set("dryRun", p.dry_run);
  auto v = ApiClient(o).Post("/api/v1/promotions", body);
  if (!v.ok()) return Fail(v.status());
  std::string result = v->GetString("result");
  int code = result == "Blocked" || result == "Conflict" ? 1 : 0;
  if (o.output != "table") {
    PrintValue(o, *v);
    return code;
  }
  std::cout << p.from << " (" << v->GetString("fromBranch")
            << (v->GetString("mode") == "directory" ? ":" + v->GetString("fromPath") : "")
            << ") -> " << p.to << " (" << v->GetString("toBranch")
            << (v->GetString("mode") == "directory" ? ":" + v->GetString("toPath") : "")
            << "): commit " << Short(v->GetString("commit")) << " " << v->GetString("commitMessage")
            << "\n";
  PrintGate(*v);
  if (result == "Conflict") {
    std::cout << "conflicting files:\n";
    for (const Value& f : v->Find("conflicts")->as_array())
      std::cout << "  " << f.as_string() << "\n";
  }
  (code ? std::cerr : std::cout) << (code ? "plumb: " : "") << v->GetString("message") << "\n";
  return code;
}

int CmdEnvList(const ClientOptions& o, const std::string& repo) {
  auto v =
      ApiClient(o).Get("/api/v1/environments" + (repo.empty() ? "" : "?repo=" + QueryEscape(repo)));
  if (!v.ok()) return Fail(v.status());
  if (o.output != "table") {
    PrintValue(o, *v);
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"APP", "REPO", "BRANCH", "PATH", "HEAD", "APPLIED", "SYNC", "HEALTH"}};
  for (const Value& e : v->Find("items")->as_array())
    rows.push_back({e.GetString("app"), e.GetString("repo"), e.GetString("branch"),
                    e.GetString("path"), Short(e.GetString("headCommit")),
                    Short(e.GetString("appliedCommit")), e.GetString("sync"),
                    e.GetString("health")});
  PrintTable(rows);
  return 0;
}

int CmdEnvDiff(const ClientOptions& o, const std::string& from, const std::string& to) {
  auto v = ApiClient(o).Get("/api/v1/environments/diff?from=" + QueryEscape(from) +
                            "&to=" + QueryEscape(to));
  if (!v.ok()) return Fail(v.status());
  std::string diff = v->GetString("diff");
  const Value* ahead = v->Find("ahead");
  bool differ = !diff.empty() || (ahead && ahead->is_int() && ahead->as_int() > 0);
  if (o.output != "table") {
    PrintValue(o, *v);
    return differ ? 1 : 0;
  }
  std::cout << v->GetString("summary") << "\n";
  auto list = [&](const char* key, const std::string& title) {
    const Value* commits = v->Find(key);
    if (!commits || commits->size() == 0) return;
    std::cout << title << "\n";
    for (const Value& c : commits->as_array())
      std::cout << "  " << Short(c.GetString("commit")) << " " << c.GetString("summary") << "\n";
  };
  list("aheadCommits", "commits in " + from + " not in " + to + " (a promotion brings them):");
  list("behindCommits", "commits in " + to + " not in " + from + " (its own):");
  if (!diff.empty()) std::cout << "\n" << diff;
  return differ ? 1 : 0;
}

int CmdImages(const ClientOptions& o, const std::string& app) {
  auto v = ApiClient(o).Get("/api/v1/images" + (app.empty() ? "" : "?app=" + QueryEscape(app)));
  if (!v.ok()) return Fail(v.status());
  if (o.output != "table") {
    PrintValue(o, *v);
    return 0;
  }
  auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  auto ready = [](const Value& x) {
    return x.Find("ready") ? (x.Find("ready")->as_bool() ? "True" : "False") : "-";
  };
  auto name = [](const Value& x) {
    std::string ns = x.GetString("namespace");
    return x.GetString("app") + "/" + (ns.empty() ? "" : ns + "/") + x.GetString("name");
  };
  auto count = [&](const char* list) {
    const Value* l = v->Find(list);
    return l ? l->size() : 0;
  };
  bool first = true;
  auto section = [&](const std::vector<std::vector<std::string>>& rows) {
    if (rows.size() < 2) return;
    if (!first) std::cout << "\n";
    first = false;
    PrintTable(rows);
  };
  std::vector<std::vector<std::string>> rows = {
      {"IMAGEREPOSITORY", "IMAGE", "READY", "TAGS", "LAST SCAN", "MESSAGE"}};
  if (count("repositories"))
    for (const Value& r : v->Find("repositories")->as_array())
      rows.push_back({name(r), r.GetString("image"), ready(r),
                      r.Find("tagCount") ? std::to_string(r.Find("tagCount")->as_int()) : "-",
                      or_dash(r.GetString("lastScanTime")), or_dash(r.GetString("error"))});
  section(rows);
  rows = {{"IMAGEPOLICY", "REPOSITORY", "READY", "LATEST IMAGE", "MESSAGE"}};
  if (count("policies"))
    for (const Value& p : v->Find("policies")->as_array())
      rows.push_back({name(p), p.GetString("imageRepository"), ready(p),
                      or_dash(p.GetString("latestImage")), or_dash(p.GetString("error"))});
  section(rows);
  rows = {{"IMAGEUPDATEAUTOMATION", "BRANCH", "LAST PUSH", "LAST RUN", "MESSAGE"}};
  if (count("automations"))
    for (const Value& a : v->Find("automations")->as_array()) {
      std::string msg = a.GetString("error");
      rows.push_back({name(a), a.GetString("branch"), Short(a.GetString("lastPushCommit")),
                      or_dash(a.GetString("lastAutomationRunTime")),
                      or_dash(msg.empty() ? a.GetString("message") : msg)});
    }
  section(rows);
  if (first) std::cout << "no image-update objects" << (app.empty() ? "" : " in " + app) << "\n";
  return 0;
}

}  // namespace plumb::cli
