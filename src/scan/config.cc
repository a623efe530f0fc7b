// .plumbscan.yaml, baselines, and the filter they make.
#include <fnmatch.h>

#include <algorithm>
#include <cctype>

#include "core/strings.h"
#include "resource/codec.h"
#include "scan/scan.h"

namespace plumb::scan {

namespace {

using resource::Value;

// Both regex engines expand counted repeats into automata: a rule from a repository must
// not make the scanner build a huge one. Returns why `regex` is refused, or "".
std::string RegexTooLarge(const std::string& regex) {
  if (regex.size() > 512) return "regex longer than 512 characters";
  bool after_quantifier = false;
  for (size_t i = 0; i < regex.size(); ++i) {
    char c = regex[i];
    if (c == '\\') {
      ++i;
      after_quantifier = false;
      continue;
    }
    if (c == '{') {
      if (after_quantifier) return "a repeat of a repeat";
      size_t n = 0;
      for (size_t j = i + 1;
           j < regex.size() &&
           (std::isdigit(static_cast<unsigned char>(regex[j])) || regex[j] == ',');
           ++j) {
        if (regex[j] == ',') {
          n = 0;
          continue;
        }
        n = n * 10 + static_cast<size_t>(regex[j] - '0');
        if (n > 200) return "a counted repeat larger than 200";
      }
    }
    after_quantifier = c == '}' || c == '*' || c == '+' || c == '?';
    if (c == ')' && i + 1 < regex.size() && regex[i + 1] == '{') {
      // A counted repeat of a group: allowed, but not of a group holding one.
      size_t open = regex.rfind('(', i);
      if (open != std::string::npos && regex.find('{', open) < i) return "a repeat of a repeat";
    }
  }
  return "";
}

// Reading one config document: every error names the file, the line of the field and
// what is wrong.
class ConfigReader {
 public:
  ConfigReader(std::string_view text, std::string name) : text_(text), name_(std::move(name)) {}

  Status Error(const std::vector<std::string>& path, const std::string& what) const {
    int line = resource::FindYamlLine(text_, 0, path);
    std::string field = Join(path, ".");
    return InvalidArgument(name_ + ":" + std::to_string(line > 0 ? line : 1) + ": " +
                           (field.empty() ? "" : field + ": ") + what);
  }

  Result<std::vector<std::string>> Strings(const Value& v, const std::vector<std::string>& path) {
    if (!v.is_array()) return Error(path, std::string("must be a list, not ") + v.TypeName());
    std::vector<std::string> out;
    for (size_t i = 0; i < v.size(); ++i) {
      const Value& e = v.as_array()[i];
      if (!e.is_string() || e.as_string().empty()) {
        auto p = path;
        p.push_back(std::to_string(i));
        return Error(p, "must be a non-empty string");
      }
      out.push_back(e.as_string());
    }
    return out;
  }

  Result<Rule> ReadRule(const Value& v, size_t index) {
    std::vector<std::string> path = {"rules", std::to_string(index)};
    if (!v.is_object()) return Error(path, "a rule must be a mapping");
    Rule r;
    for (const auto& [key, val] : v.as_object()) {
      auto p = path;
      p.push_back(key);
      if (key == "id" || key == "description" || key == "regex") {
        if (!val.is_string()) return Error(p, "must be a string");
        (key == "id" ? r.id : key == "regex" ? r.regex : r.description) = val.as_string();
      } else if (key == "secretGroup") {
        if (!val.is_int() || val.as_int() < 0 || val.as_int() > 9) {
          return Error(p, "must be an integer from 0 to 9");
        }
        r.secret_group = static_cast<int>(val.as_int());
      } else if (key == "caseless") {
        if (!val.is_bool()) return Error(p, "must be true or false");
        r.caseless = val.as_bool();
      } else if (key == "entropy") {
        if (!val.is_number() || val.as_double() < 0 || val.as_double() > 8) {
          return Error(p, "must be a number from 0 to 8 (bits per byte)");
        }
        r.min_entropy = val.as_double();
      } else if (key == "keywords") {
        ASSIGN_OR_RETURN(r.keywords, Strings(val, p));
      } else {
        return Error(p,
                     "unknown field (rules take id, description, regex, secretGroup, "
                     "caseless, entropy, keywords)");
      }
    }
    if (r.id.empty()) return Error(path, "a rule needs an id");
    if (!std::all_of(r.id.begin(), r.id.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        })) {
      return Error(path, "id '" + r.id + "' must be lowercase letters, digits and '-'");
    }
    if (r.regex.empty()) return Error(path, "rule " + r.id + " needs a regex");
    if (std::string why = RegexTooLarge(r.regex); !why.empty()) {
      return Error(path, "rule " + r.id + ": " + why);
    }
    if (r.description.empty()) r.description = r.id;
    return r;
  }

  Result<Config> Read() {
    ASSIGN_OR_RETURN(auto docs, resource::ParseYaml(text_, name_));
    Config c;
    if (docs.empty()) return c;
    if (docs.size() > 1) return InvalidArgument(name_ + ": one YAML document expected");
    const Value& root = docs[0].value;
    if (root.is_null()) return c;
    if (!root.is_object()) return Error({}, "the config must be a mapping");
    for (const auto& [key, val] : root.as_object()) {
      if (key == "rules") {
        if (!val.is_array()) return Error({key}, "must be a list of rules");
        for (size_t i = 0; i < val.size(); ++i) {
          ASSIGN_OR_RETURN(Rule r, ReadRule(val.as_array()[i], i));
          c.rules.push_back(std::move(r));
        }
      } else if (key == "disabledRules") {
        ASSIGN_OR_RETURN(auto ids, Strings(val, {key}));
        c.disabled_rules.insert(ids.begin(), ids.end());
      } else if (key == "allowlist") {
        if (!val.is_object()) return Error({key}, "must be a mapping");
        for (const auto& [k, v] : val.as_object()) {
          ASSIGN_OR_RETURN(auto list, Strings(v, {key, k}));
          if (k == "paths") {
            c.allow_paths = std::move(list);
          } else if (k == "commits") {
            for (const auto& id : list) {
              if (id.size() < 7) return Error({key, k}, "commit '" + id + "' is shorter than 7");
            }
            c.allow_commits = std::move(list);
          } else if (k == "fingerprints") {
            c.allow_fingerprints.insert(list.begin(), list.end());
          } else {
            return Error({key, k}, "unknown field (allowlist takes paths, commits, fingerprints)");
          }
        }
      } else {
        return Error({key}, "unknown field (the config takes rules, disabledRules, allowlist)");
      }
    }
    return c;
  }

 private:
  std::string_view text_;
  std::string name_;
};

}  // namespace

Result<Config> ParseConfig(std::string_view text, const std::string& name) {
  resource::ParseLimits limits;
  limits.max_bytes = 1 << 20;
  if (text.size() > limits.max_bytes) return InvalidArgument(name + ": larger than 1 MiB");
  return ConfigReader(text, name).Read();
}

Result<std::set<std::string>> ParseBaseline(std::string_view text, const std::string& name) {
  ASSIGN_OR_RETURN(resource::Value v, resource::ParseJson(text, name));
  const resource::Value* list = &v;
  if (v.is_object()) list = v.Find("findings");
  if (list == nullptr || !list->is_array()) {
    return InvalidArgument(name + ": not a findings report (want {\"findings\": [...]})");
  }
  std::set<std::string> out;
  for (size_t i = 0; i < list->size(); ++i) {
    std::string fp = list->as_array()[i].GetString("fingerprint");
    if (fp.empty()) {
      return InvalidArgument(name + ": finding " + std::to_string(i) + " has no fingerprint");
    }
    out.insert(fp);
  }
  return out;
}

Result<std::vector<Rule>> EffectiveRules(const Config& config) {
  const auto& builtin = BuiltinRules();
  for (const auto& id : config.disabled_rules) {
    bool known =
        std::any_of(builtin.begin(), builtin.end(), [&](const Rule& r) { return r.id == id; }) ||
        std::any_of(config.rules.begin(), config.rules.end(),
                    [&](const Rule& r) { return r.id == id; });
    if (!known) return InvalidArgument("disabledRules: no rule named " + id);
  }
  std::vector<Rule> out;
  // The repository's own rules first: more specific than the builtin generic ones.
  for (const auto& r : config.rules) {
    if (config.disabled_rules.count(r.id) == 0) out.push_back(r);
  }
  for (const auto& r : builtin) {
    if (config.disabled_rules.count(r.id) == 0) out.push_back(r);
  }
  return out;
}

bool PathMatches(const std::string& glob, const std::string& path) {
  if (fnmatch(glob.c_str(), path.c_str(), 0) == 0) return true;
  // "**/x" also matches "x" at the top; "dir/**" everything under dir.
  if (glob.rfind("**/", 0) == 0 && fnmatch(glob.c_str() + 3, path.c_str(), 0) == 0) return true;
  return false;
}

bool Filter::PathAllowed(const std::string& path) const {
  if (config == nullptr) return false;
  return std::any_of(config->allow_paths.begin(), config->allow_paths.end(),
                     [&](const std::string& g) { return PathMatches(g, path); });
}

bool Filter::CommitAllowed(const std::string& commit) const {
  if (config == nullptr || commit.empty()) return false;
  return std::any_of(config->allow_commits.begin(), config->allow_commits.end(),
                     [&](const std::string& c) { return commit.rfind(c, 0) == 0; });
}

bool Filter::FindingIgnored(const Finding& f) const {
  if (baseline.count(f.fingerprint) != 0) return true;
  return config != nullptr && config->allow_fingerprints.count(f.fingerprint) != 0;
}

}  // namespace plumb::scan
