// scan_bench: the throughput of the secret scanner alone, for bench/bench_scan.py.
//   scan_bench --rules        prints the builtin rules (id, regex, caseless) as JSON
//   scan_bench [--regex] DIR [REPEAT]
//                             scans every file under DIR (read into memory first) REPEAT
//                             times with the builtin rules (--regex: confirmed by std::regex
//                             instead of their hand-written matchers) and prints one JSON object:
//                             {"bytes", "files", "seconds" (best pass, wall), "mb_per_s",
//                              "cpu_seconds" (best pass, CPU time of the thread: what one
//                              core does on a machine other work shares), "mb_per_cpu_s",
//                              "findings": [{"rule", "file", "line"}]}
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "core/fs.h"
#include "core/strings.h"
#include "scan/scan.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: scan_bench [--regex] DIR [REPEAT] | --rules\n";
    return 2;
  }
  std::string root = argv[1];
  plumb::scan::ScannerOptions options;
  if (root == "--regex" && argc > 2) {
    options.builtin_matchers = false;
    ++argv;
    --argc;
    root = argv[1];
  }
  if (root == "--rules") {  // the builtin rules as JSON, for running them with other tools
    std::cout << "[";
    const auto& rules = plumb::scan::BuiltinRules();
    for (size_t i = 0; i < rules.size(); ++i) {
      std::cout << (i ? ",\n " : "") << "{\"id\": " << plumb::JsonQuote(rules[i].id)
                << ", \"regex\": " << plumb::JsonQuote(rules[i].regex)
                << ", \"caseless\": " << (rules[i].caseless ? "true" : "false") << "}";
    }
    std::cout << "]\n";
    return 0;
  }
  int repeat = argc > 2 ? std::stoi(argv[2]) : 3;
  std::vector<std::pair<std::string, std::string>> files;
  size_t bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_directory() || !e.is_regular_file() || e.is_symlink()) continue;
    std::string rel = std::filesystem::relative(e.path(), root).generic_string();
    if (rel.rfind(".git/", 0) == 0) continue;
    auto text = plumb::fs::ReadFile(e.path().string());
    if (!text.ok()) continue;
    bytes += text->size();
    files.emplace_back(rel, std::move(*text));
  }
  auto scanner = plumb::scan::Scanner::Create(plumb::scan::BuiltinRules(), options);
  if (!scanner.ok()) {
    std::cerr << scanner.status().ToString() << "\n";
    return 2;
  }
  auto cpu_now = [] {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
  };
  double best = 1e9;
  double best_cpu = 1e9;
  std::vector<plumb::scan::Finding> findings;
  for (int r = 0; r < repeat; ++r) {
    std::vector<plumb::scan::Finding> found;
    auto start = std::chrono::steady_clock::now();
    double cpu_start = cpu_now();
    for (const auto& [name, text] : files) {
      auto f = (*scanner)->Scan(text, name);
      if (f.ok()) found.insert(found.end(), f->begin(), f->end());
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (s < best) best = s;
    best_cpu = std::min(best_cpu, cpu_now() - cpu_start);
    findings = std::move(found);
  }
  std::cout << "{\"bytes\": " << bytes << ", \"files\": " << files.size()
            << ", \"seconds\": " << best << ", \"mb_per_s\": " << (bytes / 1e6) / best
            << ", \"cpu_seconds\": " << best_cpu
            << ", \"mb_per_cpu_s\": " << (bytes / 1e6) / best_cpu << ", \"findings\": [";
  for (size_t i = 0; i < findings.size(); ++i) {
    std::cout << (i ? ", " : "") << "{\"rule\": " << plumb::JsonQuote(findings[i].rule_id)
              << ", \"file\": " << plumb::JsonQuote(findings[i].file)
              << ", \"line\": " << findings[i].line << "}";
  }
  std::cout << "]}\n";
  return 0;
}
