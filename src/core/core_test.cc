#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/status.h"
#include "core/strings.h"
#include "core/subprocess.h"

namespace plumb {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("odd");
  return x / 2;
}

Status UseHalf(int x, int* out) {
  ASSIGN_OR_RETURN(int h, Half(x));
  *out = h;
  return Status::Ok();
}

TEST(StatusTest, ResultCarriesValueOrError) {
  int out = 0;
  EXPECT_TRUE(UseHalf(4, &out).ok());
  EXPECT_EQ(out, 2);
  Status s = UseHalf(3, &out).WithContext("render a.yaml");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "render a.yaml: odd");
  EXPECT_FALSE(s.transient());
  EXPECT_TRUE(Unavailable("x").transient());
}

TEST(ClockTest, ParsesDurations) {
  EXPECT_EQ(ParseDuration("30s")->count(), 30000);
  EXPECT_EQ(ParseDuration("1m")->count(), 60000);
  EXPECT_EQ(ParseDuration("1h30m")->count(), 5400000);
  EXPECT_EQ(ParseDuration("250ms")->count(), 250);
  EXPECT_EQ(ParseDuration("5")->count(), 5000);
  EXPECT_FALSE(ParseDuration("5x").ok());
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_EQ(FormatDuration(Duration(90000)), "1m30s");
  EXPECT_EQ(FormatDuration(Duration(250)), "250ms");
}

TEST(StringsTest, JsonQuoteEscapesAndRepairsUtf8) {
  EXPECT_EQ(JsonQuote("a\"b\n"), "\"a\\\"b\\n\"");
  EXPECT_EQ(JsonQuote(std::string("\xff")), "\"\xEF\xBF\xBD\"");
  EXPECT_EQ(JsonQuote("h\xC3\xA9"), "\"h\xC3\xA9\"");
  // Runs of plain ASCII go in whole, around every kind of escape.
  EXPECT_EQ(JsonQuote(""), "\"\"");
  EXPECT_EQ(JsonQuote("plain text ~\x7f"), "\"plain text ~\x7f\"");
  EXPECT_EQ(JsonQuote("ab\\cd\tef\x01gh\xC3\xA9ij\xffkl\""),
            "\"ab\\\\cd\\tef\\u0001gh\xC3\xA9ij\xEF\xBF\xBDkl\\\"\"");
}

TEST(StringsTest, Base64RoundTripsAndRejectsGarbage) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    std::string back;
    ASSERT_TRUE(Base64Decode(Base64Encode(s), &back)) << s;
    EXPECT_EQ(back, s);
  }
  EXPECT_EQ(Base64Encode("hunter2"), "aHVudGVyMg==");
  std::string out;
  EXPECT_TRUE(Base64Decode("aHVu\ndGVyMg==", &out));
  EXPECT_EQ(out, "hunter2");
  EXPECT_FALSE(Base64Decode("aHVu!GVy", &out));
  EXPECT_FALSE(Base64Decode("aHV", &out));
  EXPECT_FALSE(Base64Decode("aH==VudG", &out));
}

TEST(FsTest, NormalizeAndIsUnder) {
  EXPECT_EQ(fs::NormalizePath("/a/./b//../c"), "/a/c");
  EXPECT_EQ(fs::NormalizePath("/../x"), "/x");
  EXPECT_EQ(fs::NormalizePath("a/../../b"), "../b");
  EXPECT_TRUE(fs::IsUnder("/srv/app/x", "/srv/app"));
  EXPECT_FALSE(fs::IsUnder("/srv/app2/x", "/srv/app"));
  EXPECT_FALSE(fs::IsUnder("/srv/app/../etc", "/srv/app"));
  // Paths already normal take a shortcut; its answers are the long way's.
  for (const char* p : {"/", "/a", "/a/b", "a", "a/b", ".", "..", "../a", "", "/a/", "a//b", "/a/.",
                        "/./a", "/a/..", "a/.b", "/a/..b", "/...", "//"}) {
    SCOPED_TRACE(p);
    const std::string norm = fs::NormalizePath(p);
    EXPECT_EQ(fs::NormalizePath(norm), norm);
  }
  EXPECT_EQ(fs::NormalizePath(""), ".");
  EXPECT_EQ(fs::NormalizePath("/a/"), "/a");
  EXPECT_EQ(fs::NormalizePath("a/.b"), "a/.b");
  EXPECT_EQ(fs::NormalizePath("/..."), "/...");
  EXPECT_TRUE(fs::IsUnder("/srv/app", "/srv/app"));
  EXPECT_TRUE(fs::IsUnder("/srv/app/x", "/"));
  EXPECT_TRUE(fs::IsUnder("/", "/"));
  EXPECT_FALSE(fs::IsUnder("srv/app", "/"));
  EXPECT_FALSE(fs::IsUnder("/srv", "/srv/app"));
  EXPECT_FALSE(fs::IsUnder("/srv/appx", "/srv/app"));
  EXPECT_TRUE(fs::IsUnder("/srv/app/x", "/srv/app/"));
  EXPECT_TRUE(fs::IsUnder("/srv//app/x", "/srv/app"));
  EXPECT_TRUE(fs::IsUnder("a/b", "a"));
}

TEST(FsTest, AtomicWriteReplacesContent) {
  auto dir = fs::MakeTempDir("plumb-core-test-");
  ASSERT_TRUE(dir.ok());
  fs::TempDir guard(*dir);
  std::string p = *dir + "/f.txt";
  ASSERT_TRUE(fs::WriteFileAtomic(p, "one", 0600).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(p, "two", 0644, true).ok());
  EXPECT_EQ(*fs::ReadFile(p), "two");
  EXPECT_EQ(fs::ReadFile(*dir + "/missing").status().code(), Code::kNotFound);
}

// What CreateWhole leaves in `dir` besides `keep`: nothing (no temp file, no SQLite
// side file).
std::vector<std::string> Leftovers(const std::string& dir, const std::string& keep) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename() != keep) out.push_back(e.path().filename());
  return out;
}

TEST(FsTest, CreateWholeMakesTheFileOnceAndKeepsAnExistingOne) {
  auto dir = fs::MakeTempDir("plumb-core-test-");
  ASSERT_TRUE(dir.ok());
  fs::TempDir guard(*dir);
  const std::string p = *dir + "/state.db";
  std::string seen_tmp;
  Status made = fs::CreateWhole(p, [&](const std::string& tmp) {
    seen_tmp = tmp;
    EXPECT_EQ(fs::Dirname(tmp), *dir);  // same directory: the rename stays on its file system
    EXPECT_FALSE(fs::Exists(p));        // nobody sees it before it is whole
    Status s = fs::WriteFileAtomic(tmp, "first", 0600);
    if (s.ok()) s = fs::WriteFileAtomic(tmp + "-wal", "side file", 0600);
    return s;
  });
  ASSERT_TRUE(made.ok()) << made.ToString();
  EXPECT_EQ(*fs::ReadFile(p), "first");
  EXPECT_TRUE(Leftovers(*dir, "state.db").empty());
  // Something is there already (another process won the race): it is kept.
  made = fs::CreateWhole(
      p, [](const std::string& tmp) { return fs::WriteFileAtomic(tmp, "second", 0600); });
  ASSERT_TRUE(made.ok()) << made.ToString();
  EXPECT_EQ(*fs::ReadFile(p), "first");
  EXPECT_TRUE(Leftovers(*dir, "state.db").empty());
  // The filler fails: its error, no file, nothing left behind.
  const std::string q = *dir + "/other.db";
  made = fs::CreateWhole(q, [](const std::string& tmp) {
    (void)fs::WriteFileAtomic(tmp, "half", 0600);
    return Unavailable("disk full");
  });
  EXPECT_EQ(made.code(), Code::kUnavailable);
  EXPECT_NE(made.message().find("disk full"), std::string::npos);
  EXPECT_FALSE(fs::Exists(q));
  EXPECT_TRUE(Leftovers(*dir, "state.db").empty());
}

TEST(FsTest, WriteFileBeneathStaysBelowItsRoot) {
  auto dir = fs::MakeTempDir("plumb-core-test-");
  ASSERT_TRUE(dir.ok());
  fs::TempDir guard(*dir);
  ASSERT_TRUE(fs::MakeDirs(*dir + "/root/sub").ok());
  ASSERT_TRUE(fs::MakeDirs(*dir + "/outside").ok());
  auto root = fs::OpenRoot(*dir + "/root");
  ASSERT_TRUE(root.ok()) << root.status().ToString();

  auto w = fs::WriteFileBeneath(*root, "sub/f", "F", "one\n", 0644);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(w->untouched);
  EXPECT_EQ(*fs::ReadFile(*dir + "/root/sub/f"), "one\n");
  struct stat st;
  ASSERT_EQ(::lstat((*dir + "/root/sub/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, w->st.st_ino);
  EXPECT_EQ(st.st_ctim.tv_nsec, w->st.st_ctim.tv_nsec) << "the stamp is taken after the rename";
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  // Group/other write bits are set by fchmod, after the content is in.
  w = fs::WriteFileBeneath(*root, "sub/f", "F", "two\n", 0666);
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(::lstat((*dir + "/root/sub/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  EXPECT_EQ(*fs::ReadFile(*dir + "/root/sub/f"), "two\n");

  // A missing directory, a symlink leading out, "..": refused, nothing written outside.
  EXPECT_EQ(fs::WriteFileBeneath(*root, "nope/f", "F", "x", 0644).status().code(), Code::kNotFound);
  ASSERT_EQ(::symlink((*dir + "/outside").c_str(), (*dir + "/root/out").c_str()), 0);
  ASSERT_EQ(::symlink("../outside", (*dir + "/root/rel").c_str()), 0);
  for (const char* rel : {"out/f", "rel/f", "../outside/f"}) {
    auto bad = fs::WriteFileBeneath(*root, rel, rel, "pwned", 0644);
    EXPECT_EQ(bad.status().code(), Code::kPermissionDenied) << rel << bad.status().ToString();
  }
  EXPECT_FALSE(fs::Exists(*dir + "/outside/f"));
  ::close(*root);
}

TEST(SubprocessTest, CapturesOutputAndExitCode) {
  auto r = RunSubprocess({"sh", "-c", "cat; echo err >&2; exit 3"}, {.stdin_data = "hello"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "hello");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(RunSubprocess({"no-such-program-plumb"}).status().code(), Code::kNotFound);
  auto t = RunSubprocess({"sleep", "5"}, {.timeout = Duration(50)});
  EXPECT_EQ(t.status().code(), Code::kDeadlineExceeded);
}

// Everything the logger writes to stderr while `fn` runs, as JSON lines.
template <typename Fn>
std::string CaptureLog(Fn fn) {
  log::SetFormat(log::Format::kJson);
  testing::internal::CaptureStderr();
  fn();
  std::string out = testing::internal::GetCapturedStderr();
  log::SetFormat(log::Format::kText);
  return out;
}

TEST(LogTest, ContextFieldsJoinEveryLineOfTheirThreadOnly) {
  std::string out = CaptureLog([] {
    log::ScopedContext ctx({{"app", "web"}});
    log::Info("resolving");
    log::SetContextField("commit", "3f2a1c9");
    log::Info("applied", {{"reason", "SyncSucceeded"}});
    std::thread([] { log::Info("elsewhere"); }).join();
  });
  auto lines = Split(out, '\n');
  ASSERT_GE(lines.size(), 3u) << out;
  EXPECT_NE(lines[0].find("\"msg\":\"resolving\",\"app\":\"web\"}"), std::string::npos) << out;
  EXPECT_NE(lines[1].find("\"app\":\"web\",\"commit\":\"3f2a1c9\",\"reason\":\"SyncSucceeded\"}"),
            std::string::npos)
      << out;
  EXPECT_NE(lines[2].find("\"msg\":\"elsewhere\"}"), std::string::npos) << out;
}

TEST(LogTest, NestedScopesRestoreAndOwnFieldsWin) {
  std::string out = CaptureLog([] {
    log::SetContextField("commit", "ignored");  // no scope open: nothing to set
    log::Info("before");
    log::ScopedContext outer({{"app", "root"}, {"commit", "aaa"}});
    {
      log::ScopedContext inner({{"app", "child"}});
      log::SetContextField("commit", "bbb");
      log::Info("inner");
    }
    log::Info("outer");
    log::Info("explicit", {{"app", "other"}});
  });
  auto lines = Split(out, '\n');
  ASSERT_GE(lines.size(), 4u) << out;
  EXPECT_NE(lines[0].find("\"msg\":\"before\"}"), std::string::npos) << out;
  EXPECT_NE(lines[1].find("\"app\":\"child\",\"commit\":\"bbb\"}"), std::string::npos) << out;
  EXPECT_NE(lines[2].find("\"app\":\"root\",\"commit\":\"aaa\"}"), std::string::npos) << out;
  EXPECT_NE(lines[3].find("\"commit\":\"aaa\",\"app\":\"other\"}"), std::string::npos) << out;
  EXPECT_EQ(lines[3].find("\"root\""), std::string::npos) << out;
}
}  // namespace
}  // namespace plumb

#include "core/metrics.h"

namespace plumb {
namespace {
TEST(MetricsTest, RendersPrometheusText) {
  metrics::Registry r;
  r.Describe("x_total", metrics::Type::kCounter, "Things.");
  r.Describe("lat_seconds", metrics::Type::kHistogram, "Latency.", {0.1, 1});
  r.Add("x_total", {{"app", "a\"b"}});
  r.Add("x_total", {{"app", "a\"b"}}, 2);
  r.Observe("lat_seconds", {{"app", "a"}}, 0.05);
  r.Observe("lat_seconds", {{"app", "a"}}, 0.5);
  std::string text = r.Render();
  EXPECT_NE(text.find("# TYPE x_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("x_total{app=\"a\\\"b\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{app=\"a\",le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{app=\"a\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{app=\"a\",le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_count{app=\"a\"} 2\n"), std::string::npos);
  r.Forget("x_total", "app", "a\"b");
  EXPECT_EQ(r.Render().find("x_total{"), std::string::npos);
}
}  // namespace
}  // namespace plumb
