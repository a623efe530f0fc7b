#include "pipeline/setters.h"

namespace plumb::pipeline {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && (IsSpace(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (IsSpace(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Where the comment of `line` starts ('#'), or npos. Quotes open only where a scalar
// starts, so "it's" in a plain scalar does not hide a comment.
size_t CommentStart(std::string_view line) {
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote == '"') {
      if (c == '\\')
        ++i;
      else if (c == '"')
        quote = 0;
      continue;
    }
    if (quote == '\'') {
      if (c == '\'' && i + 1 < line.size() && line[i + 1] == '\'')
        ++i;
      else if (c == '\'')
        quote = 0;
      continue;
    }
    if (c == '#' && (i == 0 || IsSpace(line[i - 1]))) return i;
    if (c == '"' || c == '\'') {
      size_t j = i;
      while (j > 0 && IsSpace(line[j - 1])) --j;
      char prev = j == 0 ? 0 : line[j - 1];
      if (j == 0 || ((j < i || prev == '[' || prev == '{' || prev == ',') &&
                     (prev == ':' || prev == '-' || prev == '[' || prev == '{' || prev == ',')))
        quote = c;
    }
  }
  return std::string_view::npos;
}

// End of the quoted scalar opening at `open` (index of the closing quote), or npos.
size_t QuoteEnd(std::string_view s, size_t open) {
  char q = s[open];
  for (size_t i = open + 1; i < s.size(); ++i) {
    if (q == '"' && s[i] == '\\') {
      ++i;
    } else if (s[i] == q) {
      if (q == '\'' && i + 1 < s.size() && s[i + 1] == '\'') {
        ++i;
        continue;
      }
      return i;
    }
  }
  return std::string_view::npos;
}

// The scalar value of a line's content before its comment: [begin, end) in `body`, with
// `quote` its quote character (0 for plain; then the span excludes the quotes).
struct ValueSpan {
  size_t begin = 0, end = 0;
  char quote = 0;
};

std::optional<ValueSpan> FindValue(std::string_view body) {
  size_t i = 0;
  while (i < body.size() && IsSpace(body[i])) ++i;
  // Sequence entries, possibly nested ("- - x").
  while (i < body.size() && body[i] == '-' && (i + 1 == body.size() || IsSpace(body[i + 1]))) {
    ++i;
    while (i < body.size() && IsSpace(body[i])) ++i;
  }
  if (i >= body.size()) return std::nullopt;
  // A quoted scalar: the value itself, or a quoted key.
  if (body[i] == '"' || body[i] == '\'') {
    size_t close = QuoteEnd(body, i);
    if (close == std::string_view::npos) return std::nullopt;
    if (close + 1 == body.size()) return ValueSpan{i + 1, close, body[i]};
    i = close + 1;
  }
  size_t colon = std::string_view::npos;
  for (size_t k = i; k < body.size(); ++k) {
    if (body[k] == ':' && (k + 1 == body.size() || IsSpace(body[k + 1]))) {
      colon = k;
      break;
    }
  }
  if (colon != std::string_view::npos) {
    i = colon + 1;
    while (i < body.size() && IsSpace(body[i])) ++i;
    if (i >= body.size()) return std::nullopt;  // the value is on a later line
  }
  char c = body[i];
  if (c == '"' || c == '\'') {
    size_t close = QuoteEnd(body, i);
    if (close + 1 != body.size()) return std::nullopt;
    return ValueSpan{i + 1, close, c};
  }
  // Flow collections, anchors, aliases, tags and block scalars are not image values.
  if (c == '[' || c == '{' || c == '&' || c == '*' || c == '!' || c == '|' || c == '>' ||
      c == '@' || c == '`')
    return std::nullopt;
  return ValueSpan{i, body.size(), 0};
}

// Whether the content of a line (comment removed) opens a block scalar.
bool OpensBlockScalar(std::string_view body) {
  body = TrimView(body);
  size_t k = body.size();
  while (k > 0 &&
         (body[k - 1] == '-' || body[k - 1] == '+' || (body[k - 1] >= '0' && body[k - 1] <= '9')))
    --k;
  if (k == 0 || (body[k - 1] != '|' && body[k - 1] != '>')) return false;
  return k == 1 || IsSpace(body[k - 2]);
}

std::string Decode(std::string_view raw, char quote) {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (quote == '"' && raw[i] == '\\' && i + 1 < raw.size()) {
      out += raw[++i];
    } else if (quote == '\'' && raw[i] == '\'' && i + 1 < raw.size()) {
      out += raw[++i];
    } else {
      out += raw[i];
    }
  }
  return out;
}

std::string Encode(const std::string& value, char quote) {
  std::string out;
  for (char c : value) {
    if (quote == '"' && (c == '"' || c == '\\')) out += '\\';
    if (quote == '\'' && c == '\'') out += '\'';
    out += c;
  }
  return out;
}

}  // namespace

std::optional<SetterRef> ParseSetterComment(std::string_view comment) {
  std::string_view s = TrimView(comment);
  if (s.size() < 2 || s.front() != '{' || s.back() != '}') return std::nullopt;
  s = TrimView(s.substr(1, s.size() - 2));
  constexpr std::string_view kKey = "\"$imagepolicy\"";
  if (s.substr(0, kKey.size()) != kKey) return std::nullopt;
  s = TrimView(s.substr(kKey.size()));
  if (s.empty() || s.front() != ':') return std::nullopt;
  s = TrimView(s.substr(1));
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::nullopt;
  std::string_view ref = s.substr(1, s.size() - 2);
  if (ref.find_first_of("\"\\") != std::string_view::npos) return std::nullopt;
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t p = ref.find(':', start);
    parts.emplace_back(TrimView(ref.substr(start, p == std::string_view::npos ? p : p - start)));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  SetterRef out;
  if (parts.size() >= 2 && (parts.back() == "tag" || parts.back() == "name")) {
    out.field = parts.back() == "tag" ? SetterRef::Field::kTag : SetterRef::Field::kName;
    parts.pop_back();
  }
  if (parts.size() == 1) {
    out.name = parts[0];
  } else if (parts.size() == 2) {
    out.ns = parts[0];
    out.name = parts[1];
  } else {
    return std::nullopt;
  }
  if (out.name.empty()) return std::nullopt;
  return out;
}

SetterResult ApplySetters(
    std::string_view text,
    const std::function<const PolicyImage*(const std::string& ns, const std::string& name)>&
        lookup) {
  SetterResult result;
  std::string& out = result.text;
  out.reserve(text.size());
  int line_no = 0;
  int block_indent = -1;  // inside a block scalar opened by a line of this indentation
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    ++line_no;
    size_t after = nl == std::string_view::npos ? text.size() : nl + 1;
    int indent = 0;
    while (static_cast<size_t>(indent) < line.size() && line[indent] == ' ') ++indent;
    bool blank = TrimView(line).empty();
    if (block_indent >= 0) {
      if (blank || indent > block_indent) {
        out.append(text.substr(pos, after - pos));
        pos = after;
        continue;
      }
      block_indent = -1;
    }
    size_t hash = CommentStart(line);
    std::string_view body = line.substr(0, hash == std::string_view::npos ? line.size() : hash);
    while (!body.empty() && IsSpace(body.back())) body.remove_suffix(1);
    if (OpensBlockScalar(body)) block_indent = indent;
    std::optional<SetterRef> ref;
    if (hash != std::string_view::npos) ref = ParseSetterComment(line.substr(hash + 1));
    std::optional<ValueSpan> span;
    if (ref) span = FindValue(body);
    const PolicyImage* image = nullptr;
    if (span) {
      image = lookup(ref->ns, ref->name);
      if (!image) {
        result.unknown_policies.push_back((ref->ns.empty() ? "" : ref->ns + ":") + ref->name);
      }
    }
    if (!image) {
      out.append(text.substr(pos, after - pos));
      pos = after;
      continue;
    }
    std::string value;
    switch (ref->field) {
      case SetterRef::Field::kImage:
        value = image->image + ":" + image->tag;
        break;
      case SetterRef::Field::kTag:
        value = image->tag;
        break;
      case SetterRef::Field::kName:
        value = image->image;
        break;
    }
    std::string old_value = Decode(body.substr(span->begin, span->end - span->begin), span->quote);
    out.append(line.substr(0, span->begin));
    if (old_value == value) {
      out.append(line.substr(span->begin));
    } else {
      out.append(span->quote ? Encode(value, span->quote) : value);
      out.append(line.substr(span->end));
      result.edits.push_back(SetterEdit{
          .line = line_no, .policy = ref->name, .old_value = old_value, .new_value = value});
    }
    out.append(text.substr(end, after - end));
    pos = after;
  }
  return result;
}

}  // namespace plumb::pipeline
