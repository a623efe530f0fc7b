// cli: the HTTP client the verbs use to talk to a running operator, and the verbs
// that only talk to it (status, diff, sync, history, rollback).
#pragma once

#include <functional>
#include <string>

#include "core/status.h"
#include "resource/value.h"

namespace plumb::cli {

struct ClientOptions {
  std::string server;     // --server, PLUMB_SERVER, STATE_DIR/address, or the default
  std::string token;      // --token, PLUMB_TOKEN, or STATE_DIR/token
  std::string state_dir;  // shared with the operator
  std::string ca_file;    // --ca-file or PLUMB_CA_FILE: CAs for https (default: the system's)
  std::string output = "table";  // table | json | yaml
};

// The state directory plumb uses when none is given: $PLUMB_STATE_DIR, else
// $XDG_STATE_HOME/plumbline, else ~/.local/state/plumbline.
std::string DefaultStateDir();

// Fills server, token and CA file from flags, environment and the state directory.
void ResolveClient(ClientOptions* o);

class ApiClient {
 public:
  explicit ApiClient(ClientOptions o) : o_(std::move(o)) {}
  // GET/POST a JSON API path; a non-2xx answer becomes an error carrying the
  // operator's message (Unauthenticated for 401, NotFound for 404, ...).
  Result<resource::Value> Get(const std::string& path);
  Result<resource::Value> Post(const std::string& path, const resource::Value& body);
  // Streams a server-sent-events path, calling on_data with each event's data until the
  // stream ends or on_data returns false.
  Status Stream(const std::string& path, const std::function<bool(const std::string&)>& on_data);
  // GETs a plain-text path, passing the body to on_data as it arrives (for streams that
  // never end, such as `logs?follow=true`, until the connection or on_data ends it). A
  // non-2xx answer becomes an error carrying the operator's message.
  Status StreamText(const std::string& path, bool endless,
                    const std::function<bool(const char*, size_t)>& on_data);

 private:
  Result<resource::Value> Call(const std::string& method, const std::string& path,
                               const std::string& body);
  ClientOptions o_;
};

// Each returns the process exit code: 0 fine, 1 drift / not healthy where documented,
// 2 error (printed to stderr).
// Which of one Application's resource rows `plumb status APP` shows.
struct StatusRows {
  bool summary = false;      // --summary: counts by sync and health, no rows
  std::string sync, health;  // --sync, --health: only rows with this value
};
int CmdStatus(const ClientOptions& o, const std::string& app, const StatusRows& rows = {});
int CmdDiff(const ClientOptions& o, const std::string& app);
int CmdSync(const ClientOptions& o, const std::string& app, bool dry_run);
int CmdHistory(const ClientOptions& o, const std::string& app);
int CmdRollback(const ClientOptions& o, const std::string& app, const std::string& revision);
int CmdEvents(const ClientOptions& o, const std::string& app, bool follow);
int CmdSuspend(const ClientOptions& o, const std::string& app, bool suspend);
int CmdRefresh(const ClientOptions& o, const std::string& app);

struct LogsOptions {
  std::string name;  // "" = every Process and Job of the Application
  std::string kind;  // "" | Process | Job
  int replica = -1;  // -1 = all replicas
  bool follow = false;
  int tail = 100;
};
// Prints the last lines of the logs (and with follow, new lines until interrupted).
int CmdLogs(const ClientOptions& o, const std::string& app, const LogsOptions& lo);
// `plumb local scale APP/NAME N` and `plumb local stop APP/NAME` (via names the verb, for
// the event). `target` is APP/NAME or APP/KIND/NAME.
int CmdLocalScale(const ClientOptions& o, const std::string& target, int replicas,
                  const std::string& via);

// `plumb promote FROM TO`: see docs/pipelines.md. Exit 0 promoted (or up to date, or a
// dry run that would promote), 1 refused (the gate, a conflict), 2 error.
struct PromoteOptions {
  std::string from, to, app, commit;
  bool ours = false, force = false, dry_run = false;
};
int CmdPromote(const ClientOptions& o, const PromoteOptions& p);
// `plumb env list [--repo URL]` and `plumb env diff FROM TO` (exit 0 equal, 1 differ).
int CmdEnvList(const ClientOptions& o, const std::string& repo);
int CmdEnvDiff(const ClientOptions& o, const std::string& from, const std::string& to);
int CmdImages(const ClientOptions& o, const std::string& app);

// Prints `s` to stderr as "plumb: MESSAGE"; returns exit code 2.
int Fail(const Status& s);
// Prints `v` as JSON or YAML (o.output).
void PrintValue(const ClientOptions& o, const resource::Value& v);

// Prints a table with a header row, columns padded to the widest cell.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace plumb::cli
