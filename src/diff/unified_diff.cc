// UnifiedDiff: a line diff with Myers' O(ND) algorithm (the linear-space "middle snake"
// bisection), printed in the format of GNU `diff -u`.
//
// Before the search, lines that occur only in one text are marked changed and left out
// (as GNU diff's discard_confusing_lines does, but exactly: such a line can never be part
// of a common subsequence, so the result stays minimal). Two unrelated 10k-line files then
// cost O(N) instead of O(N*D).
#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "diff/diff.h"

namespace plumb::diff {
namespace {

// A line keeps its '\n' (when it has one), so "x" at the end of a file without a newline
// differs from "x\n", exactly as GNU diff treats them.
std::vector<std::string_view> SplitLines(const std::string& text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string::npos ? text.size() : nl + 1;
    lines.emplace_back(text.data() + start, end - start);
    start = end;
  }
  return lines;
}

// Marks changed[] flags for two sequences of line ids with Myers' algorithm.
class Myers {
 public:
  Myers(const std::vector<int>& a, const std::vector<int>& b, std::vector<char>* a_changed,
        std::vector<char>* b_changed)
      : a_(a), b_(b), a_changed_(*a_changed), b_changed_(*b_changed) {}

  void Run() { Compare(0, static_cast<int>(a_.size()), 0, static_cast<int>(b_.size())); }

 private:
  void Compare(int xoff, int xlim, int yoff, int ylim) {
    while (xoff < xlim && yoff < ylim && a_[xoff] == b_[yoff]) ++xoff, ++yoff;
    while (xlim > xoff && ylim > yoff && a_[xlim - 1] == b_[ylim - 1]) --xlim, --ylim;
    if (xoff == xlim) {
      for (int y = yoff; y < ylim; ++y) b_changed_[y] = 1;
      return;
    }
    if (yoff == ylim) {
      for (int x = xoff; x < xlim; ++x) a_changed_[x] = 1;
      return;
    }
    int xmid, ymid;
    if (!Bisect(xoff, xlim, yoff, ylim, &xmid, &ymid)) {
      for (int x = xoff; x < xlim; ++x) a_changed_[x] = 1;
      for (int y = yoff; y < ylim; ++y) b_changed_[y] = 1;
      return;
    }
    Compare(xoff, xmid, yoff, ymid);
    Compare(xmid, xlim, ymid, ylim);
  }

  // Finds a point (xmid, ymid) on an optimal edit path of a_[xoff,xlim) and
  // b_[yoff,ylim), both non-empty with no common prefix/suffix, by running the search
  // from both ends until the paths overlap. False when there is no common line at all.
  bool Bisect(int xoff, int xlim, int yoff, int ylim, int* xmid, int* ymid) {
    const int n = xlim - xoff, m = ylim - yoff;
    const int max_d = (n + m + 1) / 2;
    const int v_offset = max_d, v_length = 2 * max_d + 2;
    v1_.assign(v_length, -1);
    v2_.assign(v_length, -1);
    v1_[v_offset + 1] = 0;
    v2_[v_offset + 1] = 0;
    const int delta = n - m;
    const bool front = (delta % 2) != 0;  // the forward pass detects the overlap
    int k1start = 0, k1end = 0, k2start = 0, k2end = 0;
    for (int d = 0; d < max_d; ++d) {
      for (int k1 = -d + k1start; k1 <= d - k1end; k1 += 2) {
        const int k1_offset = v_offset + k1;
        int x1 = (k1 == -d || (k1 != d && v1_[k1_offset - 1] < v1_[k1_offset + 1]))
                     ? v1_[k1_offset + 1]
                     : v1_[k1_offset - 1] + 1;
        int y1 = x1 - k1;
        while (x1 < n && y1 < m && a_[xoff + x1] == b_[yoff + y1]) ++x1, ++y1;
        v1_[k1_offset] = x1;
        if (x1 > n) {
          k1end += 2;
        } else if (y1 > m) {
          k1start += 2;
        } else if (front) {
          const int k2_offset = v_offset + delta - k1;
          if (k2_offset >= 0 && k2_offset < v_length && v2_[k2_offset] != -1 &&
              x1 >= n - v2_[k2_offset]) {
            *xmid = xoff + x1;
            *ymid = yoff + y1;
            return true;
          }
        }
      }
      for (int k2 = -d + k2start; k2 <= d - k2end; k2 += 2) {
        const int k2_offset = v_offset + k2;
        int x2 = (k2 == -d || (k2 != d && v2_[k2_offset - 1] < v2_[k2_offset + 1]))
                     ? v2_[k2_offset + 1]
                     : v2_[k2_offset - 1] + 1;
        int y2 = x2 - k2;
        while (x2 < n && y2 < m && a_[xlim - x2 - 1] == b_[ylim - y2 - 1]) ++x2, ++y2;
        v2_[k2_offset] = x2;
        if (x2 > n) {
          k2end += 2;
        } else if (y2 > m) {
          k2start += 2;
        } else if (!front) {
          const int k1_offset = v_offset + delta - k2;
          if (k1_offset >= 0 && k1_offset < v_length && v1_[k1_offset] != -1) {
            const int x1 = v1_[k1_offset];
            const int y1 = v_offset + x1 - k1_offset;
            if (x1 >= n - x2) {
              *xmid = xoff + x1;
              *ymid = yoff + y1;
              return true;
            }
          }
        }
      }
    }
    return false;
  }

  const std::vector<int>& a_;
  const std::vector<int>& b_;
  std::vector<char>& a_changed_;
  std::vector<char>& b_changed_;
  std::vector<int> v1_, v2_;  // reused across bisections: Bisect does not recurse
};

// Computes changed flags for every line of `a` and `b`.
void DiffLines(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b,
               std::vector<char>* a_changed, std::vector<char>* b_changed) {
  // Equal lines get equal ids; count occurrences per side.
  std::unordered_map<std::string_view, int> ids;
  std::vector<int> count_a, count_b;
  auto id_of = [&](std::string_view line) {
    auto [it, inserted] = ids.emplace(line, static_cast<int>(ids.size()));
    if (inserted) {
      count_a.push_back(0);
      count_b.push_back(0);
    }
    return it->second;
  };
  std::vector<int> ida(a.size()), idb(b.size());
  for (size_t i = 0; i < a.size(); ++i) ++count_a[ida[i] = id_of(a[i])];
  for (size_t i = 0; i < b.size(); ++i) ++count_b[idb[i] = id_of(b[i])];

  a_changed->assign(a.size(), 0);
  b_changed->assign(b.size(), 0);
  // Keep only lines that have a partner on the other side; the rest are changed.
  std::vector<int> ka, kb, map_a, map_b;
  for (size_t i = 0; i < a.size(); ++i) {
    if (count_b[ida[i]] == 0) {
      (*a_changed)[i] = 1;
    } else {
      ka.push_back(ida[i]);
      map_a.push_back(static_cast<int>(i));
    }
  }
  for (size_t i = 0; i < b.size(); ++i) {
    if (count_a[idb[i]] == 0) {
      (*b_changed)[i] = 1;
    } else {
      kb.push_back(idb[i]);
      map_b.push_back(static_cast<int>(i));
    }
  }
  std::vector<char> ca(ka.size(), 0), cb(kb.size(), 0);
  Myers(ka, kb, &ca, &cb).Run();
  for (size_t i = 0; i < ka.size(); ++i)
    if (ca[i]) (*a_changed)[map_a[i]] = 1;
  for (size_t i = 0; i < kb.size(); ++i)
    if (cb[i]) (*b_changed)[map_b[i]] = 1;
}

// One change: a_changed lines [a0, a1) replaced by b lines [b0, b1).
struct Change {
  int a0, a1, b0, b1;
};

std::vector<Change> CollectChanges(const std::vector<char>& a_changed,
                                   const std::vector<char>& b_changed) {
  std::vector<Change> changes;
  const int na = static_cast<int>(a_changed.size()), nb = static_cast<int>(b_changed.size());
  int i = 0, j = 0;
  while (i < na || j < nb) {
    if (i < na && j < nb && !a_changed[i] && !b_changed[j]) {
      ++i, ++j;
      continue;
    }
    Change c{i, i, j, j};
    while (c.a1 < na && a_changed[c.a1]) ++c.a1;
    while (c.b1 < nb && b_changed[c.b1]) ++c.b1;
    changes.push_back(c);
    i = c.a1;
    j = c.b1;
  }
  return changes;
}

// GNU diff's range form: "start,count", "start" when count is 1, and for an empty range
// the line before it with ",0".
std::string Range(int start0, int count) {
  if (count == 0) return std::to_string(start0) + ",0";
  if (count == 1) return std::to_string(start0 + 1);
  return std::to_string(start0 + 1) + "," + std::to_string(count);
}

void AppendLine(std::string* out, char prefix, std::string_view line) {
  out->push_back(prefix);
  if (!line.empty() && line.back() == '\n') {
    out->append(line);
  } else {
    out->append(line);
    out->append("\n\\ No newline at end of file\n");
  }
}

}  // namespace

std::string UnifiedDiff(const std::string& before, const std::string& after,
                        const std::string& before_label, const std::string& after_label,
                        int context) {
  if (before == after) return "";
  if (context < 0) context = 0;
  const std::vector<std::string_view> a = SplitLines(before), b = SplitLines(after);
  std::vector<char> a_changed, b_changed;
  DiffLines(a, b, &a_changed, &b_changed);
  const std::vector<Change> changes = CollectChanges(a_changed, b_changed);
  if (changes.empty()) return "";

  std::string out = "--- " + before_label + "\n+++ " + after_label + "\n";
  const int na = static_cast<int>(a.size());
  size_t first = 0;
  while (first < changes.size()) {
    // Group changes whose gap of equal lines is at most 2*context (as GNU diff does).
    size_t last = first;
    while (last + 1 < changes.size() && changes[last + 1].a0 - changes[last].a1 <= 2 * context) {
      ++last;
    }
    const int a_start = std::max(0, changes[first].a0 - context);
    const int a_end = std::min(na, changes[last].a1 + context);
    // Offsets between the sides are constant across equal lines.
    const int b_start = changes[first].b0 - (changes[first].a0 - a_start);
    const int b_end = changes[last].b1 + (a_end - changes[last].a1);
    out +=
        "@@ -" + Range(a_start, a_end - a_start) + " +" + Range(b_start, b_end - b_start) + " @@\n";
    int i = a_start;
    for (size_t c = first; c <= last; ++c) {
      for (; i < changes[c].a0; ++i) AppendLine(&out, ' ', a[i]);
      for (int k = changes[c].a0; k < changes[c].a1; ++k) AppendLine(&out, '-', a[k]);
      for (int k = changes[c].b0; k < changes[c].b1; ++k) AppendLine(&out, '+', b[k]);
      i = changes[c].a1;
    }
    for (; i < a_end; ++i) AppendLine(&out, ' ', a[i]);
    first = last + 1;
  }
  return out;
}

}  // namespace plumb::diff
