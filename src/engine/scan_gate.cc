// spec.scan: the secret scan between resolving a new head and applying it. Only the lines
// added since the last applied commit are scanned, so a secret already in git before
// scanning was turned on does not block every later commit (plumb scan --git finds those).
#include <map>

#include "core/log.h"
#include "core/strings.h"
#include "engine/engine_impl.h"
#include "resource/codec.h"

namespace plumb::engine {

namespace {

// Whether line `line` of `text` (a manifest file) belongs to a document of kind Secret:
// plaintext Secrets in git are the unseal step's business (PlaintextSecretInGit, refused
// unless allowPlaintextSecrets), so the scan does not block them twice.
bool InSecretManifest(const std::string& path, const std::string& text, int line) {
  if (!EndsWith(path, ".yaml") && !EndsWith(path, ".yml") && !EndsWith(path, ".json")) {
    return false;
  }
  auto docs = resource::ParseYaml(text, path);
  if (!docs.ok()) return false;
  const resource::Document* in = nullptr;
  for (const auto& d : *docs) {
    if (d.line <= line) in = &d;
  }
  return in != nullptr && in->value.is_object() && in->value.GetString("kind") == "Secret";
}

// Line `line` (1-based) of `text`, without its newline; "" past the end.
std::string LineAt(const std::string& text, int line) {
  size_t start = 0;
  for (int n = 1; n < line; ++n) {
    start = text.find('\n', start);
    if (start == std::string::npos) return "";
    ++start;
  }
  size_t end = text.find('\n', start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string PathPrefix(const std::string& path) {
  std::string p = path;
  while (StartsWith(p, "./")) p.erase(0, 2);
  while (!p.empty() && p.back() == '/') p.pop_back();
  if (p == "." || p.empty()) return "";
  return p + "/";
}

}  // namespace

std::map<std::pair<std::string, std::string>, std::string> Engine::Impl::WhoAdded(
    const AppSpec& spec, const std::string& from, const std::string& to, size_t findings) {
  // (file, line text) -> the newest commit of from..to whose own changes add that line.
  // Each commit is compared with the one before it in the (first-parent, linear) log, so
  // merges are approximate; a range longer than 200 commits names the head.
  std::map<std::pair<std::string, std::string>, std::string> out;
  if (from.empty() || findings == 0) return out;
  auto commits = repos->Log(spec.repo, from, to, 200);
  if (!commits.ok() || commits->empty() || commits->size() >= 200) return out;
  std::string prev = from;
  for (auto c = commits->rbegin(); c != commits->rend(); ++c) {
    auto step = repos->AddedBetween(spec.repo, prev, c->id, PathPrefix(spec.path));
    prev = c->id;
    if (!step.ok()) return out;
    for (const auto& file : *step) {
      auto text = repos->ReadBlob(spec.repo, file.blob_id);
      if (!text.ok()) continue;
      for (int n : file.lines) out[{file.path, LineAt(*text, n)}] = c->id;
    }
  }
  return out;
}

Result<std::shared_ptr<const Engine::Impl::ScanConfig>> Engine::Impl::LoadScanConfig(
    const std::string& repo, const std::string& blob_id) {
  {
    std::lock_guard<std::mutex> l(scan_configs_mu);
    auto it = scan_configs.find(blob_id);
    if (it != scan_configs.end()) return it->second;
  }
  ASSIGN_OR_RETURN(std::string text, repos->ReadBlob(repo, blob_id));
  auto made = std::make_shared<ScanConfig>();
  ASSIGN_OR_RETURN(made->config, scan::ParseConfig(text, ".plumbscan.yaml"));
  auto rules = scan::EffectiveRules(made->config);
  if (!rules.ok()) return rules.status().WithContext(".plumbscan.yaml");
  auto scanner_made = scan::Scanner::Create(std::move(rules).value());
  if (!scanner_made.ok()) return scanner_made.status().WithContext(".plumbscan.yaml");
  made->scanner = std::move(scanner_made).value();
  std::lock_guard<std::mutex> l(scan_configs_mu);
  if (scan_configs.size() > 64) scan_configs.clear();  // configs change rarely
  scan_configs[blob_id] = made;
  return std::shared_ptr<const ScanConfig>(made);
}

void Engine::Impl::MakeScanner() {
  std::call_once(scanner_once, [this] {
    // Compiled once per vectorscan and rule set for this user (scan::DefaultCacheDir(), else
    // the state directory): later starts load it.
    scan::ScannerOptions options;
    options.cache_dir = scan::DefaultCacheDir();
    if (options.cache_dir.empty() && !this->options.state_dir.empty())
      options.cache_dir = this->options.state_dir + "/cache";
    auto s = scan::Scanner::Create(scan::BuiltinRules(), options);
    if (s.ok()) {
      scanner = std::move(s).value();
    } else {
      scanner_status = s.status();
    }
  });
}

Result<std::vector<std::string>> Engine::Impl::ScanAdded(
    AppState& st, const AppSpec& spec, const std::string& from, const std::string& to,
    const std::function<void(size_t)>& on_added) {
  // The builtin rules may still be compiling (MakeScanner on a thread of Start()): the
  // diff below is read meanwhile, and they are waited for only after it.
  // The repository's .plumbscan.yaml at the head, as `plumb scan` reads it: its rules,
  // disabled rules and allowlists (paths, commits, fingerprints) apply here too.
  std::shared_ptr<const ScanConfig> config;
  const scan::Scanner* active = nullptr;
  scan::Filter filter;
  auto config_blob = repos->FileBlobId(spec.repo, to, ".plumbscan.yaml");
  if (!config_blob.ok() && config_blob.status().code() != Code::kNotFound)
    return config_blob.status();
  std::string key = from + ".." + to + "|" + spec.path;
  if (config_blob.ok()) {
    key += "|" + *config_blob;
    ASSIGN_OR_RETURN(config, LoadScanConfig(spec.repo, *config_blob));
    active = config->scanner.get();
    filter.config = &config->config;
  }
  if (key == st.scan_cache_key) return st.scan_cache_findings;
  // Only the Application's path: with 10,000 Applications in one repository, diffing the
  // whole tree for each one's first apply made loading them quadratic.
  std::string prefix = PathPrefix(spec.path);
  // Told before the texts are read (a bound of their size): the caller renders meanwhile
  // when it is small.
  std::function<void(uint64_t)> on_bound;
  if (on_added)
    on_bound = [&](uint64_t bound) {
      on_added(static_cast<size_t>(std::min<uint64_t>(bound, SIZE_MAX - 1)));
    };
  auto added = repos->AddedBetween(spec.repo, from, to, prefix, on_bound);
  if (!added.ok() && added.status().code() == Code::kNotFound && !from.empty()) {
    // The applied commit is gone (a force-push pruned it): every line counts as added.
    log::Warn("secret scan: " + added.status().message() + "; scanning the whole tree",
              {{"app", spec.name}});
    added = repos->AddedBetween(spec.repo, "", to, prefix, on_bound);
  }
  if (!added.ok()) return added.status();
  MakeScanner();
  if (!scanner) return scanner_status;
  if (!active) active = scanner.get();
  struct Found {
    scan::Finding finding;
    std::string line_text;  // to find the commit that added it
  };
  std::vector<Found> found_all;
  for (auto& file : *added) {
    if (!prefix.empty() && !StartsWith(file.path, prefix)) continue;
    if (filter.PathAllowed(file.path)) continue;
    std::string text;
    if (file.has_text) {
      text = std::move(file.text);  // read by the diff already
    } else {
      ASSIGN_OR_RETURN(text, repos->ReadBlob(spec.repo, file.blob_id));
    }
    ASSIGN_OR_RETURN(auto found, active->Scan(text, file.path));
    for (const auto& f : scan::OnLines(found, file.lines)) {
      if (filter.FindingIgnored(f)) continue;
      if (InSecretManifest(file.path, text, f.line)) continue;
      found_all.push_back({f, LineAt(text, f.line)});
    }
  }
  std::map<std::pair<std::string, std::string>, std::string> added_by;
  if (!found_all.empty()) added_by = WhoAdded(spec, from, to, found_all.size());
  std::vector<std::string> findings;
  for (const auto& [f, line_text] : found_all) {
    auto it = added_by.find({f.file, line_text});
    std::string commit = it != added_by.end() ? it->second : to;
    if (filter.CommitAllowed(commit)) continue;
    findings.push_back(f.file + ":" + std::to_string(f.line) + ": " + f.rule_id + " (" +
                       f.redacted + ") in commit " + commit.substr(0, 7));
  }
  st.scan_cache_key = key;
  st.scan_cache_findings = findings;
  if (!findings.empty()) {
    log::Info("secret scan found " + std::to_string(findings.size()) + " findings",
              {{"app", spec.name}, {"commit", to}});
  }
  return findings;
}

}  // namespace plumb::engine
