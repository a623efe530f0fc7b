// The shim with real processes: shim_test_helper is started as `helper shim DIR`, as the
// operator starts `plumb shim DIR`; programs are /bin/sh scripts. Every wait polls with a
// deadline; TearDown stops every shim a test started.
#include "target/local/shim.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <set>
#include <thread>

#include "core/fs.h"
#include "core/strings.h"

namespace plumb::target::local {
namespace {

constexpr Duration kWait = Duration(15000);

std::string ReadOrEmpty(const std::string& path) {
  auto text = fs::ReadFile(path);
  return text.ok() ? *text : "";
}

std::vector<std::string> Sh(const std::string& script) { return {"/bin/sh", "-c", script}; }

// Field `n` (1-based, as proc(5) numbers them) of /proc/PID/stat; "" when gone.
std::string StatField(int pid, int n) {
  auto text = fs::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text.ok()) return "";
  std::string rest = text->substr(text->rfind(')') + 2);
  auto fields = Split(Trim(rest), ' ');
  return n - 3 < static_cast<int>(fields.size()) ? fields[n - 3] : "";
}

// Whether `sig` is pending for the whole process (kill(2) makes it so).
bool SignalPending(int pid, int sig) {
  auto text = fs::ReadFile("/proc/" + std::to_string(pid) + "/status");
  if (!text.ok()) return false;
  size_t at = text->find("ShdPnd:");
  if (at == std::string::npos) return false;
  uint64_t mask = std::stoull(text->substr(at + 7, 24), nullptr, 16);
  return (mask >> (sig - 1)) & 1;
}

std::set<std::string> OpenFds(int pid) {
  std::set<std::string> out;
  std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(path.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') out.insert(e->d_name);
  ::closedir(d);
  return out;
}

class ShimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fs::MakeTempDir("shim-test");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    tmp_ = fs::TempDir(*d);
  }

  void TearDown() override {
    for (auto& dir : dirs_) {
      auto st = ReadShimStatus(dir);
      if (!st.ok()) continue;
      EXPECT_TRUE(StopShim(*st).ok());
      if (!WaitShimGone(*st, kWait)) {
        ADD_FAILURE() << "shim in " << dir << " did not stop";
        ::kill(st->shim_pid, SIGKILL);
      }
      auto last = ReadShimStatus(dir);
      if (last.ok()) {
        EXPECT_FALSE(ProgramAlive(*last)) << dir;
      }
      (void)KillOrphan(*st);
    }
  }

  ShimSpec Spec(std::vector<std::string> argv) {
    ShimSpec spec;
    spec.argv = std::move(argv);
    spec.env = {{"PATH", "/usr/bin:/bin"}};
    spec.grace = Duration(5000);
    spec.restart = RestartPolicy::kNever;
    spec.backoff_initial = Duration(20);
    spec.backoff_max = Duration(80);
    return spec;
  }

  std::string Dir(const std::string& name) { return tmp_.path() + "/" + name; }

  ShimStatus Launch(const std::string& name, const ShimSpec& spec) {
    std::string dir = Dir(name);
    auto st = LaunchShim(PLUMB_SHIM_TEST_HELPER, dir, spec);
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    dirs_.push_back(dir);
    return st.ok() ? *st : ShimStatus{};
  }

  // Polls DIR/status.json until `done` holds; fails the test with the last status if not.
  ShimStatus WaitFor(const std::string& name, const std::function<bool(const ShimStatus&)>& done,
                     const std::string& what) {
    int64_t deadline = MonotonicMillis() + kWait.count();
    ShimStatus last;
    while (MonotonicMillis() < deadline) {
      auto st = ReadShimStatus(Dir(name));
      if (st.ok()) {
        last = *st;
        if (done(last)) return last;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ADD_FAILURE() << "timed out waiting for " << what << "; last status:\n"
                  << ShimStatusToJson(last) << "shim.log:\n"
                  << ReadOrEmpty(Dir(name) + "/shim.log");
    return last;
  }

  ShimStatus WaitState(const std::string& name, const std::string& state) {
    return WaitFor(
        name, [&](const ShimStatus& s) { return s.state == state; }, state);
  }

  std::string Log(const std::string& name, const std::string& file = "current") {
    return ReadOrEmpty(Dir(name) + "/log/" + file);
  }

  void WaitLog(const std::string& name, const std::string& text) {
    int64_t deadline = MonotonicMillis() + kWait.count();
    while (Log(name).find(text) == std::string::npos) {
      if (MonotonicMillis() >= deadline) {
        ADD_FAILURE() << "log of " << name << " never showed " << text << ":\n" << Log(name);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  fs::TempDir tmp_;
  std::vector<std::string> dirs_;
};

TEST_F(ShimTest, StartsProgramAndRecordsItsIdentity) {
  ShimSpec spec = Spec(Sh("echo hello; exec sleep 30"));
  spec.restart = RestartPolicy::kAlways;
  ShimStatus launched = Launch("a", spec);
  EXPECT_GT(launched.shim_pid, 0);
  EXPECT_TRUE(ShimAlive(launched));
  EXPECT_EQ(ProcessStartTime(launched.shim_pid), launched.shim_start);

  ShimStatus st = WaitFor(
      "a", [](const ShimStatus& s) { return s.pid > 0; }, "a program pid");
  EXPECT_EQ(st.state, "Running");
  EXPECT_EQ(ProcessStartTime(st.pid), st.start);
  EXPECT_TRUE(ProgramAlive(st));
  EXPECT_EQ(StatField(st.pid, 4), std::to_string(st.shim_pid));  // the shim is its parent
  EXPECT_EQ(StatField(st.pid, 5), std::to_string(st.pid));       // its own process group
  // A session of its own (led by the launcher's exited intermediate child, so the shim
  // can never take a terminal), and not our child.
  EXPECT_NE(StatField(st.shim_pid, 6), StatField(::getpid(), 6));
  EXPECT_NE(StatField(st.shim_pid, 4), std::to_string(::getpid()));  // not our child
  EXPECT_EQ(st.restarts, 0);
  EXPECT_GT(st.started_ms, 0);
  WaitLog("a", "hello\n");
  EXPECT_EQ(::access((Dir("a") + "/spec.json").c_str(), R_OK), 0);
  struct stat sb;
  ASSERT_EQ(::stat((Dir("a") + "/spec.json").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
}

TEST_F(ShimTest, RefusesASecondShimInTheSameDirectory) {
  ShimSpec spec = Spec(Sh("exec sleep 30"));
  ShimStatus first = Launch("a", spec);
  auto second = LaunchShim(PLUMB_SHIM_TEST_HELPER, Dir("a"), spec);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(ShimAlive(first));
}

TEST_F(ShimTest, OutputIsLoggedAndRotatedBySize) {
  ShimSpec spec =
      Spec(Sh("i=0; while [ $i -lt 50 ]; do printf 'line-%04d\\n' $i; i=$((i+1)); done"));
  spec.log_max_bytes = 100;
  spec.log_files = 2;
  Launch("a", spec);
  ShimStatus st = WaitState("a", "Exited");
  EXPECT_EQ(st.last_exit_code, 0);
  EXPECT_FALSE(fs::Exists(Dir("a") + "/log/current.3"));
  std::string kept;
  for (const char* file : {"current.2", "current.1", "current"}) {
    std::string text = Log("a", file);
    EXPECT_GT(text.size(), 0u) << file;
    EXPECT_LE(text.size(), 100u) << file;
    EXPECT_EQ(text.back(), '\n') << file;  // lines are not cut
    kept += text;
  }
  // What is kept is the end of the output, in order, with no line lost in between.
  auto lines = Split(kept, '\n');
  lines.pop_back();
  ASSERT_GE(lines.size(), 20u);
  char last[16];
  std::snprintf(last, sizeof last, "line-%04d", 49);
  EXPECT_EQ(lines.back(), last);
  for (size_t i = 0; i < lines.size(); ++i) {
    char want[16];
    std::snprintf(want, sizeof want, "line-%04d", static_cast<int>(50 - lines.size() + i));
    EXPECT_EQ(lines[i], want);
  }
}

TEST_F(ShimTest, AlwaysRestartsWithDoublingBackOff) {
  ShimSpec spec = Spec(Sh("exit 1"));
  spec.restart = RestartPolicy::kAlways;
  spec.backoff_initial = Duration(40);
  spec.backoff_max = Duration(160);
  Launch("a", spec);
  std::map<int, int64_t> delays;  // consecutive failures -> next_start_ms - last_exit_ms
  ShimStatus st = WaitFor(
      "a",
      [&](const ShimStatus& s) {
        if (s.state == "BackOff") delays[s.consecutive_failures] = s.next_start_ms - s.last_exit_ms;
        return s.restarts >= 4 && s.state == "BackOff" && delays.size() >= 3;
      },
      "four restarts");
  EXPECT_EQ(st.last_exit_code, 1);
  EXPECT_EQ(st.message, "exited with code 1");
  EXPECT_GE(st.consecutive_failures, 4);
  for (auto [failures, delay] : delays) {
    EXPECT_GE(delay, 40) << failures;
    EXPECT_EQ(delay, std::min<int64_t>(40LL << (failures - 1), 160)) << failures;
  }
}

TEST_F(ShimTest, ALongRunResetsTheBackOff) {
  ShimSpec spec = Spec(Sh("sleep 0.3; exit 1"));
  spec.restart = RestartPolicy::kAlways;
  spec.backoff_reset = Duration(200);
  Launch("a", spec);
  std::set<int> failures;
  WaitFor(
      "a",
      [&](const ShimStatus& s) {
        if (s.state == "BackOff") failures.insert(s.consecutive_failures);
        return s.restarts >= 2 && s.state == "BackOff";
      },
      "two restarts");
  EXPECT_EQ(failures, std::set<int>{1});
}

TEST_F(ShimTest, NeverRecordsTheExitCode) {
  Launch("a", Spec(Sh("exit 3")));
  ShimStatus st = WaitState("a", "Exited");
  EXPECT_EQ(st.last_exit_code, 3);
  EXPECT_EQ(st.last_signal, 0);
  EXPECT_EQ(st.restarts, 0);
  EXPECT_EQ(st.pid, 0);
  EXPECT_GT(st.last_exit_ms, 0);
  EXPECT_TRUE(IsFinalState(st));
  EXPECT_TRUE(WaitShimGone(st, kWait));  // nothing left to supervise
}

TEST_F(ShimTest, OnFailureRestartsOnlyFailures) {
  ShimSpec ok = Spec(Sh("exit 0"));
  ok.restart = RestartPolicy::kOnFailure;
  Launch("ok", ok);
  ShimStatus st = WaitState("ok", "Exited");
  EXPECT_EQ(st.last_exit_code, 0);
  EXPECT_EQ(st.restarts, 0);

  ShimSpec bad = Spec(Sh("exit 2"));
  bad.restart = RestartPolicy::kOnFailure;
  Launch("bad", bad);
  st = WaitFor(
      "bad", [](const ShimStatus& s) { return s.restarts >= 1; }, "a restart");
  EXPECT_EQ(st.last_exit_code, 2);
}

TEST_F(ShimTest, RecordsTheKillingSignal) {
  Launch("a", Spec(Sh("kill -KILL $$")));
  ShimStatus st = WaitState("a", "Exited");
  EXPECT_EQ(st.last_signal, SIGKILL);
  EXPECT_EQ(st.last_exit_code, -1);
  EXPECT_NE(st.message.find("killed by signal 9"), std::string::npos) << st.message;
}

TEST_F(ShimTest, StopSendsTheStopSignalToTheProgram) {
  ShimSpec spec =
      Spec(Sh("trap 'echo got USR2; exit 0' USR2; echo ready; "
              "while :; do sleep 0.05; done"));
  spec.stop_signal = SIGUSR2;
  spec.restart = RestartPolicy::kAlways;
  Launch("a", spec);
  WaitLog("a", "ready");
  ShimStatus running = WaitState("a", "Running");
  ASSERT_TRUE(StopShim(running).ok());
  EXPECT_TRUE(WaitShimGone(running, kWait));
  auto st = ReadShimStatus(Dir("a"));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, "Stopped");
  EXPECT_EQ(st->last_exit_code, 0);
  EXPECT_NE(Log("a").find("got USR2"), std::string::npos) << Log("a");
  EXPECT_FALSE(ProgramAlive(running));
}

TEST_F(ShimTest, StopKillsAProgramThatIgnoresItAfterTheGracePeriod) {
  ShimSpec spec = Spec(Sh("trap '' TERM; echo ready; while :; do sleep 0.05; done"));
  spec.grace = Duration(300);
  Launch("a", spec);
  WaitLog("a", "ready");
  ShimStatus running = WaitState("a", "Running");
  int64_t asked = MonotonicMillis();
  ASSERT_TRUE(StopShim(running).ok());
  EXPECT_TRUE(WaitShimGone(running, kWait));
  EXPECT_GE(MonotonicMillis() - asked, 300);
  auto st = ReadShimStatus(Dir("a"));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, "Stopped");
  EXPECT_EQ(st->last_signal, SIGKILL);
  EXPECT_FALSE(ProgramAlive(running));
}

TEST_F(ShimTest, StopDuringBackOffStopsAtOnce) {
  ShimSpec spec = Spec(Sh("exit 1"));
  spec.restart = RestartPolicy::kAlways;
  spec.backoff_initial = Duration(60000);
  Launch("a", spec);
  ShimStatus st = WaitState("a", "BackOff");
  ASSERT_TRUE(StopShim(st).ok());
  EXPECT_TRUE(WaitShimGone(st, kWait));
  EXPECT_EQ(ReadShimStatus(Dir("a"))->state, "Stopped");
}

TEST_F(ShimTest, RestartProgramStartsANewProcessAtOnceThenBacksOff) {
  ShimSpec spec = Spec(Sh("echo run; exec sleep 30"));
  spec.restart = RestartPolicy::kAlways;
  spec.backoff_initial = Duration(5000);
  spec.backoff_max = Duration(60000);
  Launch("a", spec);
  ShimStatus first = WaitState("a", "Running");
  ASSERT_TRUE(RestartProgram(first).ok());
  ShimStatus second = WaitFor(
      "a", [&](const ShimStatus& s) { return s.state == "Running" && s.pid != first.pid; },
      "a new pid");
  EXPECT_EQ(second.restarts, 1);
  EXPECT_EQ(second.consecutive_failures, 1);
  EXPECT_EQ(second.last_signal, SIGTERM);
  EXPECT_FALSE(ProgramAlive(first));
  EXPECT_TRUE(ProgramAlive(second));

  // A second liveness restart in a row is crash-looping: it waits out the back-off.
  ASSERT_TRUE(RestartProgram(second).ok());
  ShimStatus third = WaitState("a", "BackOff");
  EXPECT_EQ(third.consecutive_failures, 2);
  EXPECT_EQ(third.next_start_ms - third.last_exit_ms, 10000);
}

TEST_F(ShimTest, AMissingProgramFailsNamingIt) {
  Launch("never", Spec({"no-such-program-plumb"}));
  ShimStatus st = WaitState("never", "Failed");
  EXPECT_EQ(st.message, "exec no-such-program-plumb: No such file or directory");
  EXPECT_EQ(st.last_exit_code, 127);
  EXPECT_TRUE(IsFinalState(st));

  ShimSpec always = Spec({"/no/such/dir/prog"});
  always.restart = RestartPolicy::kAlways;
  Launch("always", always);
  st = WaitFor(
      "always", [](const ShimStatus& s) { return s.restarts >= 2 && s.state == "Failed"; },
      "failed restarts");
  EXPECT_EQ(st.message, "exec /no/such/dir/prog: No such file or directory");
  EXPECT_GT(st.next_start_ms, 0);
  EXPECT_FALSE(IsFinalState(st));
}

TEST_F(ShimTest, AMissingWorkingDirectoryFailsNamingIt) {
  ShimSpec spec = Spec(Sh("true"));
  spec.working_dir = "/no/such/dir";
  Launch("a", spec);
  ShimStatus st = WaitState("a", "Failed");
  EXPECT_EQ(st.message, "chdir /no/such/dir: No such file or directory");
}

TEST_F(ShimTest, ProgramGetsExactlyItsEnvironmentAndSearchesItsPath) {
  std::string bin = Dir("bin"), work = Dir("work");
  ASSERT_TRUE(fs::MakeDirs(bin).ok());
  ASSERT_TRUE(fs::MakeDirs(work).ok());
  ASSERT_TRUE(
      fs::WriteFileAtomic(bin + "/myprog", "#!/bin/sh\necho \"pwd=$(pwd)\"\nenv\n", 0755).ok());
  ShimSpec spec = Spec({"myprog"});
  spec.env = {{"PATH", bin + ":/usr/bin:/bin"}, {"X", "1"}};
  spec.working_dir = work;
  Launch("a", spec);
  ShimStatus st = WaitState("a", "Exited");
  EXPECT_EQ(st.last_exit_code, 0) << st.message;
  std::string out = Log("a");
  EXPECT_NE(out.find("pwd=" + work + "\n"), std::string::npos) << out;
  EXPECT_NE(out.find("X=1\n"), std::string::npos) << out;
  for (auto& line : Split(out, '\n')) {
    if (line.empty() || StartsWith(line, "pwd=")) continue;
    std::string name = line.substr(0, line.find('='));
    // What the shell itself adds is fine; nothing may come from the shim's environment.
    EXPECT_TRUE(name == "PATH" || name == "X" || name == "PWD" || name == "SHLVL" || name == "_")
        << line;
  }
}

TEST_F(ShimTest, ARecycledPidIsNotAlive) {
  // A child blocking SIGTERM, so a signal sent to it stays visible as pending.
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &term, &old);
  pid_t child = ::fork();
  if (child == 0) {
    while (true) ::pause();
  }
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  ASSERT_GT(child, 0);
  uint64_t start = ProcessStartTime(child);
  ASSERT_NE(start, 0u);

  ShimStatus wrong{.shim_pid = child, .shim_start = start + 1, .pid = child, .start = start + 1};
  EXPECT_FALSE(ShimAlive(wrong));
  EXPECT_FALSE(ProgramAlive(wrong));
  EXPECT_TRUE(StopShim(wrong).ok());
  EXPECT_FALSE(SignalPending(child, SIGTERM));
  EXPECT_TRUE(KillOrphan(wrong).ok());
  EXPECT_EQ(ProcessStartTime(child), start);  // still there

  ShimStatus right{.shim_pid = child, .shim_start = start, .pid = child, .start = start};
  EXPECT_TRUE(ShimAlive(right));
  EXPECT_TRUE(ProgramAlive(right));
  EXPECT_TRUE(StopShim(right).ok());
  EXPECT_TRUE(SignalPending(child, SIGTERM));

  EXPECT_FALSE(ShimAlive(ShimStatus{}));  // pid 0
  ::kill(child, SIGKILL);
  // Unreaped, it is a zombie: not alive either.
  int64_t deadline = MonotonicMillis() + kWait.count();
  while (StatField(child, 3) != "Z" && MonotonicMillis() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(StatField(child, 3), "Z");
  EXPECT_EQ(ProcessStartTime(child), 0u);
  EXPECT_FALSE(ShimAlive(right));
  ::waitpid(child, nullptr, 0);
}

TEST_F(ShimTest, TheShimOutlivesItsLauncher) {
  std::string dir = Dir("a");
  dirs_.push_back(dir);
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  pid_t launcher = ::fork();
  if (launcher == 0) {
    ShimSpec spec = Spec(Sh("exec sleep 30"));
    auto st = LaunchShim(PLUMB_SHIM_TEST_HELPER, dir, spec);
    int32_t pid = st.ok() ? st->shim_pid : 0;
    (void)!::write(report[1], &pid, sizeof pid);
    ::_exit(st.ok() ? 0 : 1);
  }
  ::close(report[1]);
  int32_t shim_pid = 0;
  ASSERT_EQ(::read(report[0], &shim_pid, sizeof shim_pid), static_cast<ssize_t>(sizeof shim_pid));
  ::close(report[0]);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(launcher, &wstatus, 0), launcher);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  ASSERT_GT(shim_pid, 0);

  ShimStatus st = WaitState("a", "Running");
  EXPECT_EQ(st.shim_pid, shim_pid);
  EXPECT_TRUE(ShimAlive(st));
  EXPECT_TRUE(ProgramAlive(st));
  EXPECT_NE(StatField(shim_pid, 4), std::to_string(launcher));
}

TEST_F(ShimTest, TheProgramInheritsNoDescriptorOfTheLauncher) {
  int leak[2];
  ASSERT_EQ(::pipe(leak), 0);  // deliberately without O_CLOEXEC
  ShimSpec spec = Spec(Sh("exec sleep 30"));
  ShimStatus launched = Launch("a", spec);
  ShimStatus st = WaitState("a", "Running");
  ::close(leak[1]);
  // If the shim or the program held the write end, this would wait for the deadline.
  pollfd p{leak[0], POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, static_cast<int>(kWait.count())), 1);
  char c;
  EXPECT_EQ(::read(leak[0], &c, 1), 0);
  ::close(leak[0]);
  EXPECT_EQ(OpenFds(st.pid), (std::set<std::string>{"0", "1", "2"}));
  EXPECT_TRUE(ShimAlive(launched));
}

TEST_F(ShimTest, KillOrphanKillsAProgramWhoseShimDied) {
  ShimSpec spec = Spec(Sh("exec sleep 30"));
  Launch("a", spec);
  ShimStatus st = WaitState("a", "Running");
  ASSERT_EQ(::kill(st.shim_pid, SIGKILL), 0);
  ASSERT_TRUE(WaitShimGone(st, kWait));
  EXPECT_TRUE(ProgramAlive(st));  // orphaned, still running
  EXPECT_TRUE(KillOrphan(st).ok());
  int64_t deadline = MonotonicMillis() + kWait.count();
  while (ProgramAlive(st) && MonotonicMillis() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_FALSE(ProgramAlive(st));
}

TEST_F(ShimTest, SpecAndStatusRoundTripThroughJson) {
  ShimSpec spec = Spec({"a b", "c\"d"});
  spec.env.emplace_back("SECRET", "x\ny");
  spec.restart = RestartPolicy::kOnFailure;
  spec.limit_open_files = 64;
  spec.cgroup = "/sys/fs/cgroup/x";
  auto back = ShimSpecFromJson(ShimSpecToJson(spec), "spec.json");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->argv, spec.argv);
  EXPECT_EQ(back->env, spec.env);
  EXPECT_EQ(back->restart, RestartPolicy::kOnFailure);
  EXPECT_EQ(back->backoff_initial, spec.backoff_initial);
  EXPECT_EQ(back->limit_open_files, 64);
  EXPECT_EQ(back->cgroup, spec.cgroup);

  auto bad = ShimSpecFromJson(R"({"argv": ["x"], "restart": "Sometimes"})", "spec.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("spec.json"), std::string::npos);

  ShimStatus st{.shim_pid = 7,
                .shim_start = 123456789012ULL,
                .state = "BackOff",
                .last_exit_code = -1,
                .last_signal = 9,
                .message = "killed"};
  auto st_back = ShimStatusFromJson(ShimStatusToJson(st), "status.json");
  ASSERT_TRUE(st_back.ok());
  EXPECT_EQ(st_back->shim_start, st.shim_start);
  EXPECT_EQ(st_back->state, "BackOff");
  EXPECT_EQ(st_back->last_signal, 9);
  EXPECT_EQ(st_back->last_exit_code, -1);
}

}  // namespace
}  // namespace plumb::target::local
