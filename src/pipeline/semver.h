// pipeline (internal): semantic versions and version ranges as Flux's ImagePolicy reads
// them (Masterminds/semver v3): loose versions ("v1.2", "1"), ranges with ^ ~ = != > >=
// < <= , x-wildcards, hyphen ranges "1.2 - 1.4" and "||". A version with a prerelease
// matches a comparator only when that comparator names a prerelease itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace plumb::pipeline {

struct Version {
  uint64_t major = 0, minor = 0, patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers, empty = release
  std::string original;
};

// Parses "1.2.3", "v1.2.3-rc.1+build", "1.2", "1"; nullopt when `text` is not a version.
std::optional<Version> ParseVersion(const std::string& text);

// Semantic Version 2.0 precedence (build metadata ignored): <0, 0, >0.
int CompareVersions(const Version& a, const Version& b);

class VersionRange {
 public:
  // InvalidArgument naming the range and what is wrong.
  static Result<VersionRange> Parse(const std::string& text);
  bool Matches(const Version& v) const;

 private:
  enum class Op { kEq, kNe, kGt, kGe, kLt, kLe, kTilde, kCaret };
  struct Comparator {
    Op op = Op::kEq;
    Version v;
    bool minor_wild = false, patch_wild = false, major_wild = false;
  };
  static bool Check(const Comparator& c, const Version& v);
  std::vector<std::vector<Comparator>> any_of_;  // OR of ANDs
};

}  // namespace plumb::pipeline
