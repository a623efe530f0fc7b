#include "diff/diff.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/fs.h"
#include "core/subprocess.h"
#include "resource/codec.h"
#include "resource/resource.h"

namespace plumb::diff {
namespace {

using resource::Array;
using resource::Object;
using resource::Value;

// ---- UnifiedDiff against GNU diff ----------------------------------------------------

class UnifiedDiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = fs::MakeTempDir("plumb-diff-test-");
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    dir_ = fs::TempDir(*dir);
  }

  // What /usr/bin/diff -U<context> prints for the two texts, with our labels.
  std::string GnuDiff(const std::string& before, const std::string& after, int context = 3,
                      bool minimal = false) {
    const std::string a = dir_.path() + "/a", b = dir_.path() + "/b";
    EXPECT_TRUE(fs::WriteFileAtomic(a, before).ok());
    EXPECT_TRUE(fs::WriteFileAtomic(b, after).ok());
    std::vector<std::string> argv = {
        "/usr/bin/diff", "-U" + std::to_string(context), "--label", "live/x", "--label", "git/x"};
    if (minimal) argv.push_back("--minimal");
    argv.push_back(a);
    argv.push_back(b);
    auto r = RunSubprocess(argv);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "<diff failed>";
    EXPECT_LE(r->exit_code, 1) << r->err;
    return r->out;
  }

  void ExpectSameAsGnu(const std::string& before, const std::string& after, int context = 3) {
    EXPECT_EQ(UnifiedDiff(before, after, "live/x", "git/x", context),
              GnuDiff(before, after, context))
        << "before:\n"
        << before << "\nafter:\n"
        << after;
  }

  fs::TempDir dir_;
};

std::string Lines(int from, int to, const std::string& prefix = "line ") {
  std::string out;
  for (int i = from; i <= to; ++i) out += prefix + std::to_string(i) + "\n";
  return out;
}

TEST_F(UnifiedDiffTest, EqualTextsGiveEmptyDiff) {
  EXPECT_EQ(UnifiedDiff("a\nb\n", "a\nb\n", "l", "r"), "");
  EXPECT_EQ(UnifiedDiff("", "", "l", "r"), "");
}

TEST_F(UnifiedDiffTest, OneChangedLineInTheMiddle) {
  std::string before = Lines(1, 10);
  std::string after = Lines(1, 4) + "line five\n" + Lines(6, 10);
  ExpectSameAsGnu(before, after);
  EXPECT_EQ(UnifiedDiff(before, after, "live/x", "git/x"),
            "--- live/x\n+++ git/x\n@@ -2,7 +2,7 @@\n line 2\n line 3\n line 4\n-line 5\n"
            "+line five\n line 6\n line 7\n line 8\n");
}

TEST_F(UnifiedDiffTest, InsertAtStartDeleteAtEnd) {
  ExpectSameAsGnu(Lines(1, 8), "line 0\n" + Lines(1, 7));
  ExpectSameAsGnu(Lines(1, 3), Lines(1, 5));
  ExpectSameAsGnu(Lines(1, 5), Lines(3, 5));
}

TEST_F(UnifiedDiffTest, EmptySides) {
  ExpectSameAsGnu("", Lines(1, 4));
  ExpectSameAsGnu(Lines(1, 4), "");
  ExpectSameAsGnu("", "x");
  ExpectSameAsGnu("x", "");
}

TEST_F(UnifiedDiffTest, NoNewlineAtEndOfFile) {
  ExpectSameAsGnu("a\nb\nc", "a\nb\nd");
  ExpectSameAsGnu("a\nb\nc", "a\nb\nc\n");
  ExpectSameAsGnu("a\nb\nc\n", "a\nb\nc");
  ExpectSameAsGnu("a\nb\nc", "a\nx\nc");
  ExpectSameAsGnu(Lines(1, 10) + "tail", Lines(1, 3) + "inserted\n" + Lines(4, 10) + "tail");
  EXPECT_NE(UnifiedDiff("a\nb", "a\nc", "l", "r").find("\\ No newline at end of file\n"),
            std::string::npos);
}

TEST_F(UnifiedDiffTest, HunksMergeWhenTheGapIsAtMostTwiceTheContext) {
  // Changes at lines 5 and 12: gap of 6 equal lines -> one hunk with context 3.
  std::string before = Lines(1, 20);
  std::string merged = Lines(1, 4) + "X\n" + Lines(6, 11) + "Y\n" + Lines(13, 20);
  ExpectSameAsGnu(before, merged);
  // Gap of 7 -> two hunks.
  std::string split = Lines(1, 4) + "X\n" + Lines(6, 12) + "Y\n" + Lines(14, 20);
  ExpectSameAsGnu(before, split);
  ExpectSameAsGnu(before, split, 0);
  ExpectSameAsGnu(before, split, 1);
  ExpectSameAsGnu(before, merged, 5);
}

TEST_F(UnifiedDiffTest, YamlEditsMatchGnuDiff) {
  std::string before =
      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n"
      "    app: web\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n"
      "      - name: web\n        image: nginx:1.25\n        ports:\n        - containerPort: 80\n";
  std::string after =
      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n"
      "    app: web\n    tier: front\nspec:\n  replicas: 3\n  template:\n    spec:\n"
      "      containers:\n      - name: web\n        image: nginx:1.27\n";
  ExpectSameAsGnu(before, after);
  ExpectSameAsGnu(after, before);
}

// Random edits of a file: the result must apply with patch(1) and be as small as GNU
// diff --minimal's.
TEST_F(UnifiedDiffTest, RandomEditsAreMinimalAndApply) {
  std::mt19937 rng(42);
  auto count_edits = [](const std::string& d) {
    int n = 0;
    size_t pos = 0;
    while (pos < d.size()) {
      size_t nl = d.find('\n', pos);
      if (nl == std::string::npos) nl = d.size();
      if (nl - pos >= 1 && (d[pos] == '+' || d[pos] == '-') && d.compare(pos, 4, "--- ") != 0 &&
          d.compare(pos, 4, "+++ ") != 0) {
        ++n;
      }
      pos = nl + 1;
    }
    return n;
  };
  for (int round = 0; round < 20; ++round) {
    std::vector<std::string> a;
    int n = 5 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) a.push_back("v" + std::to_string(rng() % 12) + "\n");
    std::vector<std::string> b = a;
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t at = b.empty() ? 0 : rng() % b.size();
      switch (rng() % 3) {
        case 0:
          b.insert(b.begin() + at, "n" + std::to_string(rng() % 5) + "\n");
          break;
        case 1:
          if (!b.empty()) b.erase(b.begin() + at);
          break;
        default:
          if (!b.empty()) b[at] = "c" + std::to_string(rng() % 5) + "\n";
          break;
      }
    }
    std::string before, after;
    for (auto& l : a) before += l;
    for (auto& l : b) after += l;
    std::string ours = UnifiedDiff(before, after, "live/x", "git/x");
    std::string gnu = GnuDiff(before, after, 3, /*minimal=*/true);
    EXPECT_EQ(count_edits(ours), count_edits(gnu)) << ours << "\n---gnu---\n" << gnu;

    const std::string file = dir_.path() + "/p", patch = dir_.path() + "/d.patch";
    ASSERT_TRUE(fs::WriteFileAtomic(file, before).ok());
    ASSERT_TRUE(fs::WriteFileAtomic(patch, ours).ok());
    auto r = RunSubprocess({"patch", "-s", "-i", patch, file});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->exit_code, 0) << r->out << r->err << ours;
    auto patched = fs::ReadFile(file);
    ASSERT_TRUE(patched.ok());
    EXPECT_EQ(*patched, after) << ours;
  }
}

TEST_F(UnifiedDiffTest, TenThousandLinesWithAMovedBlock) {
  std::string before, after, other;
  for (int i = 0; i < 10000; ++i) {
    before += "line " + std::to_string(i) + "\n";
    after += (i % 100 == 7 ? "changed " : "line ") + std::to_string(i) + "\n";
    other += "other " + std::to_string(i) + "\n";
  }
  // Move a block too, so the search has real work to do.
  after = after.substr(after.size() / 2) + after.substr(0, after.size() / 2);
  std::string d = UnifiedDiff(before, after, "a", "b");
  std::string unrelated = UnifiedDiff(before, other, "a", "b");
  EXPECT_FALSE(d.empty());
  EXPECT_EQ(unrelated.substr(0, 35), "--- a\n+++ b\n@@ -1,10000 +1,10000 @@");
  ExpectSameAsGnu(before, std::string(before).replace(0, 7, "LINE 0\n"));
}

// ---- Normalize --------------------------------------------------------------------

Value Obj(std::initializer_list<std::pair<const char*, Value>> members) {
  Object o;
  for (auto& [k, v] : members) o.emplace_back(k, v);
  return Value(std::move(o));
}

TEST(NormalizeTest, DropsServerFieldsAndInternalAnnotations) {
  Value live = Obj({
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       Obj({{"name", "x"},
            {"uid", "123"},
            {"resourceVersion", "9"},
            {"generation", 2},
            {"creationTimestamp", "2024-01-01T00:00:00Z"},
            {"managedFields", Array{Obj({{"manager", "plumbline"}})}},
            {"labels", Value::EmptyObject()},
            {"annotations", Obj({{"kubectl.kubernetes.io/last-applied-configuration", "{...}"},
                                 {"plumbline.dev/applied-hash", "abc"}})}})},
      {"data", Obj({{"k", "v"}})},
      {"status", Obj({{"phase", "Active"}})},
  });
  Value desired = Obj({{"apiVersion", "v1"},
                       {"kind", "ConfigMap"},
                       {"metadata", Obj({{"name", "x"}})},
                       {"data", Obj({{"k", "v"}})}});
  EXPECT_EQ(Normalize(live), desired);
  EXPECT_TRUE(StructuralDiff(Normalize(live), Normalize(desired)).empty());
  // The input is left as it was (the result shares only what it did not change).
  EXPECT_EQ(live.FindPath({"metadata", "uid"})->as_string(), "123");
  EXPECT_EQ(live.FindPath({"metadata", "annotations"})->size(), 2u);
  EXPECT_EQ(live.Find("status")->Find("phase")->as_string(), "Active");
}

TEST(NormalizeTest, ACleanDocumentIsSharedNotCopied) {
  Value v = Obj({{"metadata", Obj({{"name", "x"}, {"labels", Obj({{"a", "b"}})}})},
                 {"spec", Obj({{"content", "text"}})}});
  Value n = Normalize(v, {.ignore_paths = {"spec.absent", "metadata.labels.absent"}});
  EXPECT_EQ(n, v);
  EXPECT_EQ(&std::as_const(n).as_object(), &std::as_const(v).as_object());
  // A change below copies the path to it; siblings stay shared.
  v.Find("metadata")->Set("uid", "1");
  Value m = Normalize(v);
  EXPECT_EQ(m, n);
  EXPECT_EQ(v.FindPath({"metadata", "uid"})->as_string(), "1");
  EXPECT_EQ(&std::as_const(m).Find("spec")->as_object(),
            &std::as_const(v).Find("spec")->as_object());
}

TEST(NormalizeTest, KeepsUserAnnotationsAndHonoursIgnorePaths) {
  Value v = Obj(
      {{"metadata", Obj({{"name", "x"}, {"annotations", Obj({{"plumbline.dev/sync-wave", "1"}})}})},
       {"spec",
        Obj({{"replicas", 3}, {"ports", Array{Obj({{"port", 80}}), Obj({{"port", 81}})}}})}});
  Value n = Normalize(v, {.ignore_paths = {"spec.replicas", "spec.ports[0]", "nope.x",
                                           "metadata.annotations[\"plumbline.dev/x\"]"}});
  EXPECT_EQ(n.FindPath({"metadata", "annotations", "plumbline.dev/sync-wave"})->as_string(), "1");
  EXPECT_EQ(n.FindPath({"spec", "replicas"}), nullptr);
  ASSERT_EQ(n.FindPath({"spec", "ports"})->size(), 1u);
  EXPECT_EQ(n.FindPath({"spec", "ports"})->as_array()[0].Find("port")->as_int(), 81);

  Value m = Normalize(v, {.ignore_paths = {"metadata.annotations[\"plumbline.dev/sync-wave\"]"}});
  EXPECT_EQ(m.FindPath({"metadata", "annotations"}), nullptr);  // emptied, then dropped
}

// ---- StructuralDiff ---------------------------------------------------------------

TEST(StructuralDiffTest, ReportsAddedRemovedChangedWithPaths) {
  Value live =
      Obj({{"spec",
            Obj({{"replicas", 2},
                 {"old", true},
                 {"ports", Array{Obj({{"port", 80}}), Obj({{"port", 443}}), Obj({{"port", 9}})}}})},
           {"metadata", Obj({{"labels", Obj({{"app.kubernetes.io/name", "a"}})}})}});
  Value desired = Obj({{"spec", Obj({{"replicas", 3},
                                     {"ports", Array{Obj({{"port", 80}}), Obj({{"port", 8443}})}},
                                     {"paused", false}})},
                       {"metadata", Obj({{"labels", Obj({{"app.kubernetes.io/name", "b"}})}})}});
  auto changes = StructuralDiff(live, desired);
  ASSERT_EQ(changes.size(), 6u);
  EXPECT_EQ(changes[0].path, "spec.replicas");
  EXPECT_EQ(changes[0].op, FieldOp::kChanged);
  EXPECT_EQ(changes[0].before.as_int(), 2);
  EXPECT_EQ(changes[0].after.as_int(), 3);
  EXPECT_EQ(changes[1].path, "spec.ports[1].port");
  EXPECT_EQ(changes[1].op, FieldOp::kChanged);
  EXPECT_EQ(changes[2].path, "spec.ports[2]");
  EXPECT_EQ(changes[2].op, FieldOp::kRemoved);
  EXPECT_TRUE(changes[2].after.is_null());
  EXPECT_EQ(changes[3].path, "spec.paused");
  EXPECT_EQ(changes[3].op, FieldOp::kAdded);
  EXPECT_TRUE(changes[3].before.is_null());
  EXPECT_EQ(changes[4].path, "spec.old");
  EXPECT_EQ(changes[4].op, FieldOp::kRemoved);
  EXPECT_EQ(changes[5].path, "metadata.labels[\"app.kubernetes.io/name\"]");
}

TEST(StructuralDiffTest, NumbersCompareByValueAndTypeChangesAreChanges) {
  EXPECT_TRUE(StructuralDiff(Obj({{"a", 1}}), Obj({{"a", 1.0}})).empty());
  auto c = StructuralDiff(Obj({{"a", Obj({{"b", 1}})}}), Obj({{"a", "text"}}));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].path, "a");
  EXPECT_EQ(c[0].op, FieldOp::kChanged);
}

// ---- ResourceDiff -----------------------------------------------------------------

TEST(ResourceDiffTest, ShowsYamlOfBothSides) {
  resource::ResourceId id{"", "ConfigMap", "web", "settings"};
  Value live = Obj({{"apiVersion", "v1"},
                    {"kind", "ConfigMap"},
                    {"metadata", Obj({{"name", "settings"}, {"namespace", "web"}})},
                    {"data", Obj({{"color", "blue"}})}});
  Value desired = live;
  desired.Find("data")->Set("color", "green");
  std::string d = ResourceDiff(id, live, desired);
  EXPECT_NE(d.find("--- live/ConfigMap/web/settings\n+++ git/ConfigMap/web/settings\n"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("-  color: blue\n"), std::string::npos) << d;
  EXPECT_NE(d.find("+  color: green\n"), std::string::npos) << d;
  EXPECT_EQ(ResourceDiff(id, live, live), "");
  // Absent live: everything added; to be deleted: everything removed.
  EXPECT_NE(ResourceDiff(id, Value(), desired).find("+kind: ConfigMap\n"), std::string::npos);
  EXPECT_NE(ResourceDiff(id, live, Value()).find("-kind: ConfigMap\n"), std::string::npos);
}

TEST(ResourceDiffTest, SecretValuesNeverAppear) {
  const std::string planted = "hunter2-PLANTED-s3cr3t";
  resource::ResourceId id{"", "Secret", "web", "db"};
  Value live =
      Obj({{"apiVersion", "v1"},
           {"kind", "Secret"},
           {"metadata",
            Obj({{"name", "db"},
                 {"namespace", "web"},
                 {"annotations", Obj({{"kubectl.kubernetes.io/last-applied-configuration",
                                       "{\"data\":{\"password\":\"" + planted + "\"}}"}})}})},
           {"data", Obj({{"password", planted + "-old"},
                         {"same", planted + "-same"},
                         {"gone", planted + "-gone"}})},
           {"stringData", planted}});
  Value desired = Obj({{"apiVersion", "v1"},
                       {"kind", "Secret"},
                       {"metadata", Obj({{"name", "db"}, {"namespace", "web"}})},
                       {"data", Obj({{"password", planted + "-new"},
                                     {"same", planted + "-same"},
                                     {"added", planted + "-added"}})},
                       {"stringData", Obj({{"token", planted}})}});
  std::string d = ResourceDiff(id, live, desired);
  EXPECT_EQ(d.find("PLANTED"), std::string::npos) << d;
  EXPECT_EQ(d.find("hunter2"), std::string::npos) << d;
  // A changed value shows as a changed line; an equal one does not.
  EXPECT_NE(d.find("-  password: "), std::string::npos) << d;
  EXPECT_NE(d.find("+  password: <sealed value changed>\n"), std::string::npos) << d;
  EXPECT_EQ(d.find("-  same:"), std::string::npos) << d;
  EXPECT_NE(d.find("-  gone: "), std::string::npos) << d;
  EXPECT_NE(d.find("+  added: "), std::string::npos) << d;
  // Absent sides too.
  EXPECT_EQ(ResourceDiff(id, Value(), desired).find("PLANTED"), std::string::npos);
  EXPECT_EQ(ResourceDiff(id, live, Value()).find("PLANTED"), std::string::npos);
  // And an unchanged secret has no diff.
  EXPECT_EQ(ResourceDiff(id, desired, desired), "");
}

// ---- fixtures: desired/live YAML pairs --------------------------------------------

Value LoadFixture(const std::string& name) {
  const char* src = std::getenv("PLUMB_SOURCE_DIR");
  std::string dir = std::string(src ? src : ".") + "/src/diff/testdata/";
  auto text = fs::ReadFile(dir + name);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  if (!text.ok()) return Value();
  auto docs = resource::ParseYaml(*text, name);
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  if (!docs.ok() || docs->empty()) return Value();
  return (*docs)[0].value;
}

TEST(FixtureTest, DeploymentLiveFromServerAgainstGit) {
  // progressDeadlineSeconds is a server default, ignored as a user would configure.
  Value live = Normalize(LoadFixture("deployment.live.yaml"),
                         {.ignore_paths = {"spec.progressDeadlineSeconds"}});
  Value desired = Normalize(LoadFixture("deployment.desired.yaml"));
  auto changes = StructuralDiff(live, desired);
  std::vector<std::string> paths;
  for (auto& c : changes) paths.push_back(c.path);
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "spec.replicas",
                       "spec.template.spec.containers[0].image",
                       "spec.template.spec.containers[0].env[1]",
                   }));
}

}  // namespace
}  // namespace plumb::diff
