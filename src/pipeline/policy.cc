// GCC 12 warns about libstdc++'s own <regex> internals (-Wmaybe-uninitialized, a false
// positive at -O2 with the sanitizers); the code below does not touch what it names.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "pipeline/policy.h"

#include <cstdlib>

namespace plumb::pipeline {
namespace {

// Rewrites Go's named groups to plain ones and records every capturing group's name.
std::string TranslatePattern(const std::string& p, std::vector<std::string>* names) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      out += p.substr(i, 2);
      ++i;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];  // "[]...]"
      continue;
    }
    if (c == '(') {
      bool named = false;
      size_t name_start = 0;
      if (p.compare(i, 4, "(?P<") == 0) {
        named = true;
        name_start = i + 4;
      } else if (p.compare(i, 3, "(?<") == 0 && i + 3 < p.size() && p[i + 3] != '=' &&
                 p[i + 3] != '!') {
        named = true;
        name_start = i + 3;
      }
      if (named) {
        size_t end = p.find('>', name_start);
        if (end != std::string::npos) {
          names->push_back(p.substr(name_start, end - name_start));
          out += '(';
          i = end;
          continue;
        }
      }
      if (i + 1 < p.size() && p[i + 1] == '?') {
        out += c;
        continue;
      }
      names->push_back("");
    }
    out += c;
  }
  return out;
}

}  // namespace

Result<TagFilter> TagFilter::Create(const std::string& pattern, const std::string& extract) {
  TagFilter f;
  f.extract_ = extract;
  if (pattern.empty()) return f;
  std::string translated = TranslatePattern(pattern, &f.group_names_);
  try {
    f.re_ = std::make_shared<const std::regex>(translated, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return InvalidArgument("filterTags.pattern \"" + pattern + "\": " + e.what());
  }
  // Every $name in extract must be a group of the pattern.
  for (size_t i = 0; i < extract.size(); ++i) {
    if (extract[i] != '$' || i + 1 >= extract.size() || extract[i + 1] == '$') {
      if (extract[i] == '$') ++i;
      continue;
    }
    size_t start = i + 1, end;
    if (extract[start] == '{') {
      end = extract.find('}', start);
      if (end == std::string::npos) return InvalidArgument("filterTags.extract: unclosed ${");
      ++start;
    } else {
      end = start;
      while (end < extract.size() &&
             (std::isalnum(static_cast<unsigned char>(extract[end])) || extract[end] == '_'))
        ++end;
    }
    std::string name = extract.substr(start, end - start);
    bool known = !name.empty() && name.find_first_not_of("0123456789") == std::string::npos;
    for (const auto& n : f.group_names_) known |= n == name;
    if (!known)
      return InvalidArgument("filterTags.extract \"" + extract + "\" names group \"" + name +
                             "\", which the pattern does not have");
  }
  return f;
}

std::optional<std::string> TagFilter::Apply(const std::string& tag) const {
  if (!re_) return tag;
  std::smatch m;
  if (!std::regex_search(tag, m, *re_)) return std::nullopt;
  if (extract_.empty()) return tag;
  // Go's Regexp.ExpandString: $name or ${name} (longest name), $1, $$ for a dollar.
  auto group = [&](const std::string& name) -> std::string {
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
      size_t n = std::strtoul(name.c_str(), nullptr, 10);
      return n < m.size() ? m[n].str() : "";
    }
    for (size_t i = 0; i < group_names_.size(); ++i)
      if (group_names_[i] == name && i + 1 < m.size()) return m[i + 1].str();
    return "";
  };
  std::string out;
  for (size_t i = 0; i < extract_.size(); ++i) {
    char c = extract_[i];
    if (c != '$' || i + 1 >= extract_.size()) {
      out += c;
      continue;
    }
    if (extract_[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    size_t start = i + 1, end;
    if (extract_[start] == '{') {
      end = extract_.find('}', start);
      out += group(extract_.substr(start + 1, end - start - 1));
      i = end;
    } else {
      end = start;
      while (end < extract_.size() &&
             (std::isalnum(static_cast<unsigned char>(extract_[end])) || extract_[end] == '_'))
        ++end;
      out += group(extract_.substr(start, end - start));
      i = end - 1;
    }
  }
  return out;
}

Result<std::string> SelectTag(const PolicySpec& spec, const std::vector<std::string>& tags) {
  ASSIGN_OR_RETURN(TagFilter filter, TagFilter::Create(spec.pattern, spec.extract));
  std::optional<VersionRange> range;
  if (spec.kind == PolicySpec::Kind::kSemver) {
    ASSIGN_OR_RETURN(VersionRange r, VersionRange::Parse(spec.range));
    range = std::move(r);
  }
  std::optional<std::string> best_tag;
  std::optional<Version> best_version;
  double best_number = 0;
  std::string best_value;
  size_t considered = 0;
  for (const auto& tag : tags) {
    auto value = filter.Apply(tag);
    if (!value) continue;
    ++considered;
    switch (spec.kind) {
      case PolicySpec::Kind::kSemver: {
        auto v = ParseVersion(*value);
        if (!v || !range->Matches(*v)) continue;
        if (!best_version || CompareVersions(*v, *best_version) > 0) {
          best_version = v;
          best_tag = tag;
        }
        break;
      }
      case PolicySpec::Kind::kNumerical: {
        char* end = nullptr;
        double d = std::strtod(value->c_str(), &end);
        if (value->empty() || end != value->c_str() + value->size()) continue;
        if (!best_tag || (spec.descending ? d < best_number : d > best_number)) {
          best_number = d;
          best_tag = tag;
        }
        break;
      }
      case PolicySpec::Kind::kAlphabetical:
        if (!best_tag || (spec.descending ? *value < best_value : *value > best_value)) {
          best_value = *value;
          best_tag = tag;
        }
        break;
    }
  }
  if (!best_tag) {
    return NotFound("no tag qualifies: " + std::to_string(tags.size()) + " tags, " +
                    std::to_string(considered) + " match the filter" +
                    (range ? ", none in range \"" + spec.range + "\"" : std::string()));
  }
  return *best_tag;
}

}  // namespace plumb::pipeline
