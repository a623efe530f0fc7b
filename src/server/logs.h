// server: reading the log files of running objects for GET .../logs — the last lines of
// a replica (through its rotated files) and following new lines across rotation — and
// noticing that a streaming client went away. Files are read, never written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace plumb::server {

struct LogTail {
  std::vector<std::string> lines;  // oldest first, without '\n'
  // Where following continues: the current file's inode and the offset just after its
  // last complete line (0/0 when the file does not exist yet).
  uint64_t inode = 0;
  uint64_t offset = 0;
};

// The last `n` lines of the log at `path`; when the current file has fewer, older lines
// come from path.1 (newest rotated), path.2, ... A missing file counts as empty. A last
// line of the current file without '\n' (still being written) counts only with
// `include_partial`. Errors name the path.
Result<LogTail> TailLog(const std::string& path, size_t n, bool include_partial);

// Secret values shorter than this are not masked: they would hide ordinary text.
inline constexpr size_t kMinMaskedLength = 4;
// `line` with every occurrence of each of `values` replaced by resource::kMaskedValue.
std::string MaskValues(std::string line, const std::vector<std::string>& values);

// Follows log files. Each Poll() returns the complete lines written since the last
// call, per source in file order, each prefixed with its source's prefix. A file that
// was rotated (another inode at the path) is read to its end, then the new one from its
// start; a truncated file (smaller than what was read) is read again from its start.
// Not thread-safe; owns the descriptors it opens.
class LogFollower {
 public:
  struct Source {
    std::string path;
    std::string prefix;  // "[web-0] " or ""
    uint64_t inode = 0;  // from TailLog: continue there when the file is still the same
    uint64_t offset = 0;
  };
  explicit LogFollower(std::vector<Source> sources);
  ~LogFollower();
  LogFollower(const LogFollower&) = delete;
  LogFollower& operator=(const LogFollower&) = delete;

  // At most about `max_bytes` per source per call; the rest comes next time.
  std::vector<std::string> Poll(size_t max_bytes = 1 << 20);

 private:
  struct State {
    Source source;
    int fd = -1;
    std::string partial;  // bytes after the last '\n' read so far
  };
  void Open(State& s, bool continue_at_offset);
  void Drain(State& s, size_t max_bytes, std::vector<std::string>* out);
  std::vector<State> states_;
};

// The descriptor of this process's TCP connection between local_addr:local_port and
// remote_addr:remote_port (as the HTTP server reports them), or -1 when not found.
int FindConnectionSocket(const std::string& local_addr, int local_port,
                         const std::string& remote_addr, int remote_port);
// True when the peer of connected socket `fd` has closed its side (or it failed). Reads
// nothing.
bool PeerClosed(int fd);

}  // namespace plumb::server
