// plumb demo-server: a tiny HTTP service, so the example repository (`plumb init`) and
// the end-to-end tests can run "a web service with replicas behind readiness probes"
// with nothing but the plumb binary. GET / answers
// "hello from <$PLUMB_PROCESS or demo>-<$PLUMB_REPLICA or 0>[ <$MESSAGE>]", GET /healthz
// answers 200 "ok" (503 with --never-ready). SIGTERM or SIGINT: a clean exit 0.
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "core/clock.h"

namespace plumb::cli {
namespace {

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// "HOST:PORT" (or ":PORT", host 127.0.0.1); false when the port is not a number 0-65535.
bool ParseListen(const std::string& text, std::string* host, int* port) {
  size_t colon = text.rfind(':');
  std::string h = colon == std::string::npos ? "" : text.substr(0, colon);
  std::string p = colon == std::string::npos ? text : text.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
    return false;
  *port = std::stoi(p);
  if (*port > 65535) return false;
  if (!h.empty()) *host = h;
  return true;
}

enum class Wake { kSignal, kDeadline, kListenerEnded };

// Waits for SIGTERM/SIGINT (blocked in every thread), the deadline (-1: none) or
// `listener_ended`, whichever comes first; the flag is looked at every second (it is
// only set when the listener fails, so an idle server wakes rarely).
Wake WaitForSignal(const sigset_t& set, int64_t deadline_mono,
                   const std::atomic<bool>& listener_ended) {
  while (!listener_ended) {
    int64_t left = 1000;
    if (deadline_mono >= 0) {
      left = std::min<int64_t>(left, deadline_mono - MonotonicMillis());
      if (left <= 0) return Wake::kDeadline;
    }
    timespec ts{static_cast<time_t>(left / 1000), static_cast<long>(left % 1000) * 1000000};
    if (sigtimedwait(&set, nullptr, &ts) > 0) return Wake::kSignal;
  }
  return Wake::kListenerEnded;
}

}  // namespace

int CmdDemoServer(const DemoServerOptions& o) {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string listen = o.listen.empty() ? Env("PORT", "") : o.listen;
  if (listen.empty() || !ParseListen(listen, &host, &port)) {
    std::cerr << "plumb demo-server: give --listen HOST:PORT or set PORT (got \"" << listen
              << "\")\n";
    return 2;
  }
  int64_t deadline = -1;
  if (!o.fail_after.empty()) {
    auto d = ParseDuration(o.fail_after);
    if (!d.ok()) {
      std::cerr << "plumb demo-server: --fail-after: " << d.status().message() << "\n";
      return 2;
    }
    deadline = MonotonicMillis() + d->count();
  }
  std::string greeting =
      "hello from " + Env("PLUMB_PROCESS", "demo") + "-" + Env("PLUMB_REPLICA", "0");
  std::string message = Env("MESSAGE", "");
  if (!message.empty()) greeting += " " + message;
  greeting += "\n";

  // Before any thread exists, so every thread inherits the mask and only sigwait sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  httplib::Server server;
  server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(greeting, "text/plain");
  });
  server.Get("/healthz", [&](const httplib::Request&, httplib::Response& res) {
    if (o.never_ready) {
      res.status = 503;
      res.set_content("not ready\n", "text/plain");
    } else {
      res.set_content("ok\n", "text/plain");
    }
  });
  int bound = port == 0                         ? server.bind_to_any_port(host)
              : server.bind_to_port(host, port) ? port
                                                : -1;
  if (bound < 0) {
    std::cerr << "plumb demo-server: cannot listen on " << host << ":" << port << "\n";
    return 1;
  }
  std::cout << "listening on " << host << ":" << bound << std::endl;

  std::atomic<bool> listening_done{false};
  int code = 0;
  std::thread control([&] {
    Wake why = WaitForSignal(set, deadline, listening_done);
    if (why == Wake::kDeadline) {
      code = o.exit_code;
      std::cout << "failing as asked (--fail-after " << o.fail_after << ", exit code " << code
                << ")" << std::endl;
    } else if (why == Wake::kSignal) {
      std::cout << "stopping" << std::endl;
    }
    // stop() is a no-op until listen has started: repeat until it has returned.
    while (!listening_done) {
      server.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  bool ok = server.listen_after_bind();
  listening_done = true;
  control.join();
  if (!ok) std::cerr << "plumb demo-server: the listener failed\n";
  return ok ? code : 1;
}

}  // namespace plumb::cli
