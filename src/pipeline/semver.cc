#include "pipeline/semver.h"

#include <cctype>

#include "core/strings.h"

namespace plumb::pipeline {
namespace {

bool AllDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

bool ParseNumber(const std::string& s, uint64_t* out) {
  if (!AllDigits(s) || s.size() > 18) return false;
  *out = std::stoull(s);
  return true;
}

bool IsWild(const std::string& s) { return s == "x" || s == "X" || s == "*"; }

// Splits "core-pre+meta" into its parts; false when an identifier is malformed.
bool SplitSuffix(const std::string& text, std::string* core, std::vector<std::string>* pre) {
  std::string rest = text;
  size_t plus = rest.find('+');
  if (plus != std::string::npos) {
    std::string meta = rest.substr(plus + 1);
    rest = rest.substr(0, plus);
    for (const auto& id : Split(meta, '.'))
      if (id.empty()) return false;
  }
  size_t dash = rest.find('-');
  *core = rest.substr(0, dash);
  pre->clear();
  if (dash != std::string::npos) {
    for (const auto& id : Split(rest.substr(dash + 1), '.')) {
      if (id.empty()) return false;
      for (char c : id)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
      pre->push_back(id);
    }
  }
  return true;
}

int CompareIdentifiers(const std::string& a, const std::string& b) {
  bool an = AllDigits(a), bn = AllDigits(b);
  if (an && bn) {
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
  }
  if (an != bn) return an ? -1 : 1;  // numeric identifiers sort first
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

}  // namespace

std::optional<Version> ParseVersion(const std::string& text) {
  std::string s = text;
  if (!s.empty() && (s[0] == 'v' || s[0] == 'V')) s = s.substr(1);
  Version v;
  v.original = text;
  std::string core;
  if (!SplitSuffix(s, &core, &v.prerelease)) return std::nullopt;
  auto parts = Split(core, '.');
  if (parts.size() > 3) return std::nullopt;
  uint64_t* fields[] = {&v.major, &v.minor, &v.patch};
  for (size_t i = 0; i < parts.size(); ++i)
    if (!ParseNumber(parts[i], fields[i])) return std::nullopt;
  return v;
}

int CompareVersions(const Version& a, const Version& b) {
  const uint64_t av[] = {a.major, a.minor, a.patch}, bv[] = {b.major, b.minor, b.patch};
  for (int i = 0; i < 3; ++i)
    if (av[i] != bv[i]) return av[i] < bv[i] ? -1 : 1;
  if (a.prerelease.empty() || b.prerelease.empty()) {
    if (a.prerelease.empty() == b.prerelease.empty()) return 0;
    return a.prerelease.empty() ? 1 : -1;  // a release is newer than its prereleases
  }
  for (size_t i = 0; i < a.prerelease.size() && i < b.prerelease.size(); ++i) {
    int c = CompareIdentifiers(a.prerelease[i], b.prerelease[i]);
    if (c != 0) return c;
  }
  if (a.prerelease.size() == b.prerelease.size()) return 0;
  return a.prerelease.size() < b.prerelease.size() ? -1 : 1;
}

Result<VersionRange> VersionRange::Parse(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("semver range \"" + text + "\": " + why);
  };
  VersionRange range;
  std::string rest = text;
  size_t pos;
  std::vector<std::string> groups;
  while ((pos = rest.find("||")) != std::string::npos) {
    groups.push_back(rest.substr(0, pos));
    rest = rest.substr(pos + 2);
  }
  groups.push_back(rest);
  static const char* kOps[] = {"!=", ">=", "=>", "<=", "=<", "~>", ">", "<", "=", "~", "^"};
  for (std::string group : groups) {
    for (char& c : group)
      if (c == ',') c = ' ';
    std::vector<std::string> raw;
    for (const auto& t : Split(group, ' '))
      if (!Trim(t).empty()) raw.push_back(std::string(Trim(t)));
    // Join a lone operator with the version after it ("> 1.2").
    std::vector<std::string> tokens;
    for (size_t i = 0; i < raw.size(); ++i) {
      bool lone_op = false;
      for (const char* op : kOps) lone_op |= raw[i] == op;
      if (lone_op && i + 1 < raw.size()) {
        tokens.push_back(raw[i] + raw[i + 1]);
        ++i;
      } else {
        tokens.push_back(raw[i]);
      }
    }
    if (tokens.empty()) return bad("empty alternative");
    std::vector<Comparator> all;
    for (size_t i = 0; i < tokens.size(); ++i) {
      // Hyphen range "A - B" is ">=A <=B".
      if (i + 2 < tokens.size() && tokens[i + 1] == "-") {
        tokens[i] = ">=" + tokens[i];
        tokens[i + 2] = "<=" + tokens[i + 2];
        tokens.erase(tokens.begin() + i + 1);
      }
      const std::string& t = tokens[i];
      Comparator c;
      std::string op, ver = t;
      for (const char* o : kOps) {
        if (t.rfind(o, 0) == 0) {
          op = o;
          ver = t.substr(op.size());
          break;
        }
      }
      if (op == "" || op == "=")
        c.op = Op::kEq;
      else if (op == "!=")
        c.op = Op::kNe;
      else if (op == ">")
        c.op = Op::kGt;
      else if (op == ">=" || op == "=>")
        c.op = Op::kGe;
      else if (op == "<")
        c.op = Op::kLt;
      else if (op == "<=" || op == "=<")
        c.op = Op::kLe;
      else if (op == "~" || op == "~>")
        c.op = Op::kTilde;
      else
        c.op = Op::kCaret;
      ver = std::string(Trim(ver));
      if (!ver.empty() && (ver[0] == 'v' || ver[0] == 'V')) ver = ver.substr(1);
      std::string core;
      if (ver.empty() || !SplitSuffix(ver, &core, &c.v.prerelease))
        return bad("\"" + t + "\" is not a version comparator");
      c.v.original = ver;
      auto parts = Split(core, '.');
      if (parts.size() > 3) return bad("\"" + t + "\" has more than three numbers");
      uint64_t* fields[] = {&c.v.major, &c.v.minor, &c.v.patch};
      bool wild[3] = {false, false, false};
      for (size_t k = 0; k < 3; ++k) {
        if (k >= parts.size() || IsWild(parts[k]) || (k > 0 && wild[k - 1])) {
          wild[k] = true;
          *fields[k] = 0;
        } else if (!ParseNumber(parts[k], fields[k])) {
          return bad("\"" + t + "\" is not a version comparator");
        }
      }
      c.major_wild = wild[0];
      c.minor_wild = wild[1];
      c.patch_wild = wild[2];
      all.push_back(c);
    }
    range.any_of_.push_back(std::move(all));
  }
  return range;
}

bool VersionRange::Check(const Comparator& c, const Version& v) {
  if (!v.prerelease.empty() && c.v.prerelease.empty()) return false;
  const Version& k = c.v;
  bool dirty = c.minor_wild || c.patch_wild;
  int cmp = CompareVersions(v, k);
  switch (c.op) {
    case Op::kEq:
      if (c.major_wild) return true;
      if (!dirty) return cmp == 0;
      return v.major == k.major && (c.minor_wild || v.minor == k.minor);
    case Op::kNe:
      if (c.major_wild) return false;
      if (!dirty) return cmp != 0;
      return !(v.major == k.major && (c.minor_wild || v.minor == k.minor));
    case Op::kGt:
      if (c.major_wild) return false;
      if (!dirty) return cmp > 0;
      if (v.major != k.major) return v.major > k.major;
      return !c.minor_wild && v.minor > k.minor;
    case Op::kGe:
      return c.major_wild || cmp >= 0;
    case Op::kLt:
      return !c.major_wild && cmp < 0;
    case Op::kLe:
      if (c.major_wild) return true;
      if (!dirty) return cmp <= 0;
      if (v.major != k.major) return v.major < k.major;
      return c.minor_wild || v.minor <= k.minor;
    case Op::kTilde:
      if (c.major_wild) return true;
      if (cmp < 0) return false;
      if (k.major == 0 && k.minor == 0 && k.patch == 0 && !dirty) return true;
      return v.major == k.major && (c.minor_wild || v.minor == k.minor);
    case Op::kCaret:
      if (c.major_wild) return true;
      if (cmp < 0) return false;
      if (k.major > 0 || c.minor_wild) return v.major == k.major;
      if (v.major > 0) return false;
      if (k.minor > 0 || c.patch_wild) return v.minor == k.minor;
      if (v.minor > 0) return false;
      return v.patch == k.patch;
  }
  return false;
}

bool VersionRange::Matches(const Version& v) const {
  for (const auto& all : any_of_) {
    bool ok = true;
    for (const auto& c : all) ok = ok && Check(c, v);
    if (ok) return true;
  }
  return false;
}

}  // namespace plumb::pipeline
