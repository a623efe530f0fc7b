// Findings as text, JSON and SARIF 2.1.0. Only redacted matches are ever written.
#include <map>

#include "core/strings.h"
#include "scan/scan.h"

namespace plumb::scan {

std::string ToText(const Report& report) {
  std::string out;
  for (const auto& f : report.findings) {
    out += f.file + ":" + std::to_string(f.line) + ":" + std::to_string(f.column) + ": " +
           f.rule_id + ": " + f.redacted;
    if (!f.commit.empty()) out += " (commit " + f.commit.substr(0, 12) + ", " + f.author + ")";
    out += " [" + f.fingerprint + "]\n";
  }
  std::string what = report.commits > 0 ? std::to_string(report.commits) + " commits, " : "";
  out += std::to_string(report.findings.size()) + " finding" +
         (report.findings.size() == 1 ? "" : "s") + " (" + what + std::to_string(report.files) +
         " files, " + std::to_string(report.bytes) + " bytes scanned";
  if (report.ignored > 0) out += ", " + std::to_string(report.ignored) + " ignored";
  out += ")\n";
  return out;
}

std::string ToJson(const Report& report) {
  std::string out = "{\n  \"findings\": [";
  for (size_t i = 0; i < report.findings.size(); ++i) {
    const Finding& f = report.findings[i];
    out += i == 0 ? "\n" : ",\n";
    out += "    {\"rule\": " + JsonQuote(f.rule_id) +
           ", \"description\": " + JsonQuote(f.description) + ", \"file\": " + JsonQuote(f.file) +
           ", \"line\": " + std::to_string(f.line) + ", \"column\": " + std::to_string(f.column) +
           ", \"commit\": " + JsonQuote(f.commit) + ", \"author\": " + JsonQuote(f.author) +
           ", \"date\": " + std::to_string(f.date) + ", \"match\": " + JsonQuote(f.redacted) +
           ", \"fingerprint\": " + JsonQuote(f.fingerprint) + "}";
  }
  out += report.findings.empty() ? "],\n" : "\n  ],\n";
  out += "  \"files\": " + std::to_string(report.files) +
         ",\n  \"bytes\": " + std::to_string(report.bytes) +
         ",\n  \"commits\": " + std::to_string(report.commits) +
         ",\n  \"ignored\": " + std::to_string(report.ignored) + "\n}\n";
  return out;
}

std::string ToSarif(const Report& report, const std::vector<Rule>& rules) {
  std::string out =
      "{\n  \"version\": \"2.1.0\",\n"
      "  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n"
      "  \"runs\": [{\n    \"tool\": {\"driver\": {\"name\": \"plumb scan\", \"rules\": [";
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < rules.size(); ++i) {
    index[rules[i].id] = i;
    out += i == 0 ? "\n" : ",\n";
    out += "      {\"id\": " + JsonQuote(rules[i].id) + ", \"name\": " + JsonQuote(rules[i].id) +
           ", \"shortDescription\": {\"text\": " + JsonQuote(rules[i].description) + "}}";
  }
  out += "\n    ]}},\n    \"results\": [";
  for (size_t i = 0; i < report.findings.size(); ++i) {
    const Finding& f = report.findings[i];
    out += i == 0 ? "\n" : ",\n";
    std::string msg = f.description + ": " + f.redacted;
    if (!f.commit.empty()) msg += " (commit " + f.commit.substr(0, 12) + ", " + f.author + ")";
    out += "      {\"ruleId\": " + JsonQuote(f.rule_id);
    auto it = index.find(f.rule_id);
    if (it != index.end()) out += ", \"ruleIndex\": " + std::to_string(it->second);
    out += ", \"level\": \"error\", \"message\": {\"text\": " + JsonQuote(msg) +
           "}, \"locations\": [{\"physicalLocation\": {\"artifactLocation\": {\"uri\": " +
           JsonQuote(f.file) + "}, \"region\": {\"startLine\": " + std::to_string(f.line) +
           ", \"startColumn\": " + std::to_string(f.column) +
           "}}}], \"partialFingerprints\": {\"plumbScan/v1\": " + JsonQuote(f.fingerprint) + "}";
    if (!f.commit.empty()) {
      out += ", \"properties\": {\"commit\": " + JsonQuote(f.commit) +
             ", \"author\": " + JsonQuote(f.author) + "}";
    }
    out += "}";
  }
  out += report.findings.empty() ? "]\n  }]\n}\n" : "\n    ]\n  }]\n}\n";
  return out;
}

}  // namespace plumb::scan
