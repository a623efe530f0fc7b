// plumb scan: secrets in a directory, the index or a history; and the pre-commit hook.
#include "scan/scan.h"

#include <unistd.h>

#include <climits>
#include <iostream>

#include "cli/commands.h"
#include "core/fs.h"
#include "source/source.h"

namespace plumb::cli {

namespace {

constexpr const char* kConfigName = ".plumbscan.yaml";

// This binary's absolute path, so the hook runs the plumb that installed it.
std::string SelfPath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "plumb";
  return std::string(buf, static_cast<size_t>(n));
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Status InstallHook(const ScanOptions& o) {
  ASSIGN_OR_RETURN(auto repo, source::LocalRepo::Open(o.path));
  if (repo->WorkDir().empty()) {
    return FailedPrecondition(repo->GitDir() + " is a bare repository: nothing is committed there");
  }
  std::string hooks = fs::JoinPath(repo->GitDir(), "hooks");
  std::string hook = fs::JoinPath(hooks, "pre-commit");
  if (fs::Exists(hook) && !o.force) {
    return AlreadyExists(hook + " exists; pass --force to replace it");
  }
  RETURN_IF_ERROR(fs::MakeDirs(hooks));
  std::string script =
      "#!/bin/sh\n"
      "# Installed by `plumb scan --install-hook`: refuses a commit whose staged changes add a\n"
      "# secret. Allowlist a finding in .plumbscan.yaml, or skip once with "
      "`git commit --no-verify`.\n"
      "exec " +
      ShellQuote(SelfPath()) + " scan --staged\n";
  RETURN_IF_ERROR(fs::WriteFileAtomic(hook, script, 0755));
  std::cerr << "plumb scan: installed " << hook << "\n";
  return Status::Ok();
}

// The config: --config, else .plumbscan.yaml at `root` when there is one.
Result<scan::Config> LoadConfig(const ScanOptions& o, const std::string& root) {
  std::string file = o.config;
  if (file.empty()) {
    std::string candidate = fs::JoinPath(root, kConfigName);
    if (root.empty() || !fs::Exists(candidate)) return scan::Config{};
    file = candidate;
  }
  ASSIGN_OR_RETURN(std::string text, fs::ReadFile(file));
  return scan::ParseConfig(text, file);
}

Result<scan::Report> Run(const ScanOptions& o, std::vector<scan::Rule>* rules_out) {
  std::unique_ptr<source::LocalRepo> repo;
  std::string root = o.path;
  if (o.staged || o.git) {
    ASSIGN_OR_RETURN(repo, source::LocalRepo::Open(o.path));
    root = repo->WorkDir();
  } else if (!fs::IsDirectory(o.path)) {
    root = "";
  }
  ASSIGN_OR_RETURN(scan::Config config, LoadConfig(o, root));
  ASSIGN_OR_RETURN(auto rules, scan::EffectiveRules(config));
  *rules_out = rules;
  // The compiled rules are kept for the next run (a pre-commit hook runs often).
  auto scanner = scan::Scanner::Create(std::move(rules), {.cache_dir = scan::DefaultCacheDir()});
  if (!scanner.ok()) {
    return scanner.status().WithContext(o.config.empty() ? std::string(kConfigName) : o.config);
  }
  scan::Filter filter{.config = &config};
  if (!o.baseline.empty()) {
    ASSIGN_OR_RETURN(std::string text, fs::ReadFile(o.baseline));
    ASSIGN_OR_RETURN(filter.baseline, scan::ParseBaseline(text, o.baseline));
  }
  if (o.staged) return scan::ScanStaged(**scanner, *repo, filter);
  if (o.git) return scan::ScanHistory(**scanner, *repo, o.range, filter);
  return scan::ScanDirectory(**scanner, o.path, filter);
}

}  // namespace

int CmdScan(const ScanOptions& o) {
  if (o.install_hook) {
    Status s = InstallHook(o);
    if (!s.ok()) {
      std::cerr << "plumb scan: " << s.message() << "\n";
      return 2;
    }
    return 0;
  }
  std::vector<scan::Rule> rules;
  auto report = Run(o, &rules);
  if (!report.ok()) {
    std::cerr << "plumb scan: " << report.status().message() << "\n";
    return 2;
  }
  if (o.output == "json") {
    std::cout << scan::ToJson(*report);
  } else if (o.output == "sarif") {
    std::cout << scan::ToSarif(*report, rules);
  } else {
    std::cout << scan::ToText(*report);
  }
  std::cout.flush();
  return report->findings.empty() ? 0 : 1;
}

}  // namespace plumb::cli
