// kube_fake_apiserver: the API-server test double as a process, for end-to-end tests and
// the benchmark. Writes its URL to --address-file and serves until SIGTERM/SIGINT.
//   kube_fake_apiserver --fixtures DIR --address-file FILE [--token T]... [--controllers]
#include <signal.h>

#include <cstring>
#include <iostream>

#include "core/fs.h"
#include "target/kubernetes/fake_apiserver.h"

int main(int argc, char** argv) {
  using plumb::target::kubernetes::testing::FakeApiServer;
  using plumb::target::kubernetes::testing::FakeApiServerOptions;
  FakeApiServerOptions o{.tokens = {}, .control_endpoints = true};
  std::string address_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        exit(2);
      }
      return argv[++i];
    };
    if (a == "--fixtures") {
      o.fixtures_dir = next();
    } else if (a == "--address-file") {
      address_file = next();
    } else if (a == "--token") {
      o.tokens.push_back(next());
    } else if (a == "--controllers") {
      o.controllers = true;
    } else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  auto server = FakeApiServer::Start(o);
  if (!server.ok()) {
    std::cerr << server.status().ToString() << "\n";
    return 1;
  }
  if (!address_file.empty()) {
    plumb::Status s = plumb::fs::WriteFileAtomic(address_file, (*server)->url() + "\n");
    if (!s.ok()) {
      std::cerr << s.ToString() << "\n";
      return 1;
    }
  }
  int sig = 0;
  sigwait(&sigs, &sig);
  return 0;
}
