// pipeline (internal): an ImagePolicy's choice of tag, as Flux's image-reflector-controller
// makes it. filterTags keeps the tags its pattern matches (anywhere, as Go's regexp) and,
// with `extract` ("$ts", "${1}"), orders them by the expansion instead of the tag;
// then the policy picks the newest: the highest version within a semver range (prereleases
// only when the range names one), the highest number (order asc, the default) or the
// lowest (desc), the last string in byte order (asc, the default) or the first (desc).
#pragma once

#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/semver.h"

namespace plumb::pipeline {

// A filterTags pattern: Go/RE2 syntax as far as ECMAScript shares it, with named groups
// (?P<name>...) or (?<name>...).
class TagFilter {
 public:
  // Empty pattern: every tag, unchanged. InvalidArgument for a bad pattern or an extract
  // naming a group the pattern lacks.
  static Result<TagFilter> Create(const std::string& pattern, const std::string& extract);
  // The value the policy orders `tag` by; nullopt when the pattern does not match.
  std::optional<std::string> Apply(const std::string& tag) const;

 private:
  std::shared_ptr<const std::regex> re_;
  std::vector<std::string> group_names_;  // [i] = name of capturing group i+1, "" unnamed
  std::string extract_;
};

struct PolicySpec {
  enum class Kind { kSemver, kNumerical, kAlphabetical };
  Kind kind = Kind::kSemver;
  std::string range;        // semver
  bool descending = false;  // numerical/alphabetical order: desc
  std::string pattern;      // filterTags.pattern
  std::string extract;      // filterTags.extract
};

// The tag `spec` selects among `tags`; NotFound when none qualifies (the message says why);
// InvalidArgument for a bad range or pattern.
Result<std::string> SelectTag(const PolicySpec& spec, const std::vector<std::string>& tags);

}  // namespace plumb::pipeline
