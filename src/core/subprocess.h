// core: run a child program to completion, capturing its output (kubectl kustomize,
// git hooks). Not for supervised services: those are target/local's job.
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace plumb {

struct SubprocessOptions {
  std::string working_dir;             // empty: inherit
  std::string stdin_data;              // written to the child's stdin, then closed
  Duration timeout = Duration(60000);  // the child is killed (SIGKILL) after this
  size_t max_output = 64 << 20;        // stdout beyond this is an error
  std::vector<std::string> extra_env;  // "K=V" added to the inherited environment
};

struct SubprocessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;
  std::string err;
};

// Runs argv[0] (searched in PATH) with argv. Returns NotFound when the program does not
// exist, DeadlineExceeded on timeout; a non-zero exit is a result, not an error.
// All file descriptors but 0-2 are closed in the child.
Result<SubprocessResult> RunSubprocess(const std::vector<std::string>& argv,
                                       const SubprocessOptions& options = {});

}  // namespace plumb
