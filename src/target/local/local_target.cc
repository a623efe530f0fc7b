// LocalTarget: the Target for one host. Files are written atomically under --allow-path;
// ConfigMaps live only in local.db. All methods take one mutex, so calls serialise; the
// drift watcher runs on its own thread and reads ManagedFiles, never the database.
#include "target/local/local_target.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/fs.h"
#include "core/log.h"
#include "core/strings.h"
#include "resource/codec.h"
#include "target/local/file_state.h"
#include "target/local/file_writer.h"
#include "target/local/managed_files.h"
#include "target/local/row_cipher.h"
#include "target/local/spec.h"
#include "target/local/spec_process.h"
#include "target/local/store.h"
#include "target/local/supervisor.h"
#include "target/local/watcher.h"

namespace plumb::target::local {
namespace {

using resource::Resource;
using resource::ResourceId;
using resource::Value;

bool IsKind(const ResourceId& id, const char* kind) {
  return id.group == kGroup && id.kind == kind;
}

std::string PathOf(const Value& body) {
  const Value* spec = body.Find("spec");
  return spec ? spec->GetString("path") : "";
}

// The live body of a File in the shape ExpectedFile returns, from what is on disk.
// Not a regular file: a body with spec.type instead of content, so it differs. A File
// whose content comes from a Secret (`from_secret`, its spec.fromSecret) shows the
// content masked and its keyed digest, never the bytes.
Value LiveFileBody(const Value& metadata, const std::string& path, const FileState& state,
                   const Value* from_secret, const std::string& digest_key) {
  Value body = Value::EmptyObject();
  body.Set("apiVersion", kApiVersion);
  body.Set("kind", "File");
  body.Set("metadata", metadata);
  Value spec = Value::EmptyObject();
  spec.Set("path", path);
  if (state.type == FileState::Type::kRegular && from_secret) {
    spec.Set("fromSecret", *from_secret);
    spec.Set("content", resource::kMaskedValue);
    spec.Set(kContentHashField, SecretContentDigest(digest_key, state.content));
    spec.Set("mode", FormatMode(state.mode));
  } else if (state.type == FileState::Type::kRegular) {
    spec.Set("content", state.content);
    spec.Set("mode", FormatMode(state.mode));
  } else {
    spec.Set("type", FileTypeName(state.type));
  }
  body.Set("spec", std::move(spec));
  return body;
}

// spec.fromSecret of a File body; nullptr when its content does not come from a Secret.
const Value* FromSecret(const Value& body) {
  const Value* v = body.FindPath({"spec", "fromSecret"});
  return v && v->is_object() ? v : nullptr;
}

ManagedFile ManagedFromBody(const std::string& app, const ResourceId& id, const Value& body,
                            const std::string& digest_key) {
  const Value* mode = body.FindPath({"spec", "mode"});
  ManagedFile file{.owner = ManagedFile::OwnerKey(app, id),
                   .mode = mode && mode->is_string() ? ModeBits(mode->as_string()) : 0644};
  if (FromSecret(body)) {
    const Value* digest = body.FindPath({"spec", kContentHashField});
    file.content_digest =
        HexDigest(digest && digest->is_string() ? digest->as_string() : std::string());
    file.digest_key = InternText(digest_key);
  } else {
    const Value* content = body.FindPath({"spec", "content"});
    file.content_digest =
        HexDigest(Sha256Hex(content && content->is_string() ? content->as_string() : ""));
  }
  return file;
}

bool IsRunning(const ResourceId& id) { return IsKind(id, "Process") || IsKind(id, "Job"); }

// spec.replicas as applied (1 when not given).
int AppliedReplicas(const Value& body) {
  const Value* v = body.FindPath({"spec", "replicas"});
  return v && v->is_int() ? static_cast<int>(v->as_int()) : 1;
}

class LocalTarget : public Target {
 public:
  LocalTarget(LocalOptions options, std::unique_ptr<Store> store, int64_t next_order,
              std::string hash_key, RowCipher cipher, std::unique_ptr<Supervisor> supervisor)
      : options_(std::move(options)),
        writer_(options_.allow_paths, options_.state_dir, options_.durable),
        store_(std::move(store)),
        next_order_(next_order),
        hash_key_(std::move(hash_key)),
        cipher_(std::move(cipher)),
        supervisor_(std::move(supervisor)) {
    // The rows of new files are journaled when the first of them can appear (Record's
    // defer_journal): the rows of a staging directory's files in one write at Publish.
    writer_.SetBeforeVisible([this] { return store_->FlushJournal(); });
    supervisor_->SetCallbacks(
        [this](const std::string& app, const ResourceId& id) {
          std::function<void(const std::string&, const ResourceId&)> fn;
          {
            std::lock_guard<std::mutex> l(cb_mu_);
            fn = health_fn_;
          }
          if (fn) fn(app, id);
        },
        [this](const TargetEvent& e) {
          std::function<void(const TargetEvent&)> fn;
          {
            std::lock_guard<std::mutex> l(cb_mu_);
            fn = event_fn_;
          }
          if (fn) fn(e);
        });
  }
  ~LocalTarget() override {
    supervisor_.reset();  // its thread calls back into this object
    watcher_.reset();     // joins the thread before members go
    // The staged files go in place while store_ (which journals their rows first) is here.
    std::lock_guard<std::mutex> lock(mu_);
    Settle();
  }

  // Loads every stored body into memory (this process is local.db's only writer, so the
  // copy stays exact) and the managed-file table the watcher reads; a File's body only as
  // its row's hash (StoredObject::on_disk): 100,000 parsed bodies, each a second copy of
  // its content beside the desired set's, were the peak of a restart. A Secret record that
  // does not decrypt (the key changed, or none is configured) is unknown live state: it
  // stays out of memory, so the next apply rewrites it. A Secret stored in plain text
  // before a key was configured is encrypted in place.
  Status LoadManagedFiles() {
    // Staging directories a killed process left: their files' rows are below, so the next
    // reconcile writes them again.
    Status left = writer_.RemoveLeftoverStages();
    if (!left.ok())
      log::Warn("local target: a staging directory left by a killed process was not removed",
                {{"error", left.message()}});
    // One row at a time (all of them at once, with their bodies, were 100 MB at 100,000
    // Files); the Secret rows to encrypt are written once the read is done.
    std::vector<ObjectRow> seals;
    RETURN_IF_ERROR(store_->ForEach(std::nullopt, [&](ObjectRow&& row) -> Status {
      auto id = ResourceId::FromKey(row.key);
      if (!id.ok()) return Status::Ok();
      const std::string body_key = BodyKey(row.app, row.key);
      const bool sealed = RowCipher::IsSealed(row.body_json);
      std::string json;
      if (sealed) {
        auto opened = cipher_.Open(row.body_json, body_key);
        if (!opened.ok()) {
          log::Warn(
              "local.db: a Secret record does not decrypt; treated as unknown, the next "
              "apply rewrites it",
              {{"app", row.app}, {"key", row.key}, {"error", opened.status().message()}});
          unreadable_[body_key] = {.order = row.order, .hash = HexDigest(row.hash)};
          return Status::Ok();
        }
        json = std::move(opened).value();
      }
      auto body = resource::ParseJson(sealed ? json : row.body_json, store_->path());
      if (!body.ok()) {
        log::Warn("local.db: unreadable body", {{"app", row.app}, {"key", row.key}});
        unreadable_[body_key] = {.order = row.order, .hash = HexDigest(row.hash)};
        return Status::Ok();
      }
      std::string hash = row.hash;
      if (IsKind(*id, "Secret") && cipher_.enabled() && !sealed) {
        ObjectRow sealed_row = SealedRow(row.app, row.key, *body, row.order);
        hash = sealed_row.hash;
        seals.push_back(std::move(sealed_row));
      }
      if (IsKind(*id, "File")) {
        files_.Set(PathOf(*body), ManagedFromBody(row.app, *id, *body, hash_key_));
        bodies_[body_key] = {.order = row.order, .hash = HexDigest(hash), .on_disk = true};
        return Status::Ok();
      }
      bodies_[body_key] = {.body = std::move(*body), .order = row.order, .hash = HexDigest(hash)};
      return Status::Ok();
    }));
    for (const ObjectRow& sealed_row : seals) RETURN_IF_ERROR(store_->Put(sealed_row));
    const bool migrated = !seals.empty();
    // The plain text of migrated rows may linger in the WAL: fold it into the (secure-
    // delete) database now.
    if (migrated) RETURN_IF_ERROR(store_->Checkpoint());
    inventories_.clear();
    return Status::Ok();
  }

  bool Handles(const ResourceId& id) const override {
    return IsKind(id, "File") || IsKind(id, "ConfigMap") || IsKind(id, "Secret") || IsRunning(id);
  }

  Result<Value> Expected(const AppContext& ctx, const Resource& desired) override {
    const ResourceId& id = desired.id();
    if (IsKind(id, "File")) {
      ASSIGN_OR_RETURN(Value body,
                       ExpectedFile(ctx, desired, options_.allow_paths, hash_key_, &plan_dirs_));
      std::lock_guard<std::mutex> lock(mu_);
      // Held for the apply that follows, unless there is nothing to apply. Then the body
      // kept as applied becomes this equal one, which shares its content with the desired
      // set: a body still in local.db only (after a restart) is equal when its row's hash
      // (CanonicalHash, as Record() wrote it) is this body's, and is never parsed.
      std::string key = BodyKey(ctx.app, id.Key());
      auto stored = bodies_.find(key);
      const bool same =
          stored != bodies_.end() &&
          (stored->second.on_disk ? stored->second.hash.Is(resource::CanonicalHash(body))
                                  : stored->second.body == body);
      if (!same) {
        planned_[&desired] = body;
      } else {
        stored->second.body = body;
        stored->second.on_disk = false;
      }
      return body;
    }
    if (IsKind(id, "ConfigMap")) return ExpectedConfigMap(desired);
    if (IsKind(id, "Secret")) return ExpectedSecret(desired);
    if (IsKind(id, "Process")) return ExpectedProcess(ctx, desired, hash_key_);
    if (IsKind(id, "Job")) return ExpectedJob(ctx, desired, hash_key_);
    return InvalidArgument("the local target does not handle " + id.ToString());
  }

  using Target::Observe;
  Result<std::vector<LiveObject>> Observe(const AppContext& ctx,
                                          const std::vector<const ResourceId*>& ids) override {
    ASSIGN_OR_RETURN(std::vector<LiveBody> bodies, ObserveBodies(ctx, ids));
    std::vector<LiveObject> out;
    out.reserve(bodies.size());
    for (size_t j = 0; j < bodies.size() && j < ids.size(); ++j)
      out.push_back(
          LiveObject{.id = *ids[j], .exists = bodies[j].exists, .body = std::move(bodies[j].body)});
    return out;
  }

  Result<std::vector<LiveBody>> ObserveBodies(const AppContext& ctx,
                                              const std::vector<const ResourceId*>& ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    Settle();
    writer_.ForgetAbsent();  // only this observation's notes may spare an apply its look
    std::vector<LiveBody> out;
    out.reserve(ids.size());
    // Desired resources sorted by identity, built on the first object not yet applied (a
    // linear search per object made a cold plan quadratic; a map by key text held a copy
    // of every key, 10 MB at 100,000).
    std::vector<const Resource*> desired_by_id;
    auto id_less = [](const Resource* a, const Resource* b) { return a->id() < b->id(); };
    for (const ResourceId* at : ids) {
      const ResourceId& id = *at;
      LiveBody live;
      ASSIGN_OR_RETURN(const Value* stored, StoredPtr(ctx.app, id));
      if ((IsKind(id, "ConfigMap") || IsKind(id, "Secret")) && stored) {
        live.exists = true;
        live.body = *stored;
      } else if (IsRunning(id)) {
        // Exists when applied and supervised; a hand-set replica count shows as drift.
        int live_replicas = stored ? supervisor_->LiveReplicas(ctx.app, id) : -1;
        if (live_replicas >= 0) {
          live.exists = true;
          live.body = *stored;
          if (IsKind(id, "Process") && live_replicas != AppliedReplicas(*stored))
            live.body.Find("spec")->Set("replicas", live_replicas);
        }
      } else if (IsKind(id, "File")) {
        std::optional<Value> from_desired;
        if (!stored) {
          if (desired_by_id.empty() && ctx.desired && !ctx.desired->empty()) {
            desired_by_id.reserve(ctx.desired->size());
            for (const Resource& r : *ctx.desired) desired_by_id.push_back(&r);
            // Stable: of equal identities the last is taken, as the map kept it.
            std::stable_sort(desired_by_id.begin(), desired_by_id.end(), id_less);
          }
          auto after = std::upper_bound(
              desired_by_id.begin(), desired_by_id.end(), id,
              [](const ResourceId& want, const Resource* r) { return want < r->id(); });
          const Resource* found =
              after != desired_by_id.begin() && (*(after - 1))->id() == id ? *(after - 1) : nullptr;
          if (found) {
            // What Observe needs of the expected body (the path, whether it is a Secret's)
            // from the body this pass's Expected() planned, when they are what this desired
            // resource says: on a cold sync, resolving every File a third time was 8% of
            // the CPU.
            if (const Value* planned = PlannedFor(ctx, *found))
              from_desired = *planned;
            else if (auto expected =
                         ExpectedFile(ctx, *found, options_.allow_paths, hash_key_, &plan_dirs_);
                     expected.ok())
              from_desired = std::move(expected).value();
          }
        }
        const Value* where = stored ? stored : (from_desired ? &*from_desired : nullptr);
        if (where) {
          const std::string path = PathOf(*where);
          const Value* meta = where->Find("metadata");
          // Unchanged since we last saw it hold what was applied (same inode, size, mtime
          // and ctime — ctime moves on every write or chmod and cannot be set back): the
          // applied body is the live one, without reading the file again.
          const uint64_t since = files_.Tick();  // before the stat (ManagedFile::verified)
          struct stat st;
          bool have_stat = ::lstat(path.c_str(), &st) == 0;
          if (!have_stat && errno == ENOENT) {
            // Nothing there: no second look. The apply that follows in this reconcile
            // need not look again before it writes a new object's file.
            if (!stored) writer_.NoteAbsent(path);
            if (stored) files_.SetVerified(path, FileStamp{}, 0);
            out.push_back(std::move(live));
            continue;
          }
          if (stored && have_stat && S_ISREG(st.st_mode)) {
            if (files_.MatchesVerified(path, st, since)) {
              live.exists = true;
              live.body = *stored;
              out.push_back(std::move(live));
              continue;
            }
          }
          ASSIGN_OR_RETURN(FileState state, ReadFileState(path));
          if (state.type != FileState::Type::kAbsent) {
            live.exists = true;
            // A file the inventory does not hold shows without metadata, so it differs
            // and the plan applies (adopts) it even when it holds the desired content:
            // its row is then recorded, and git dropping it later prunes it. (A file
            // written just before a kill -9 whose row was not committed is one.)
            live.body = LiveFileBody(stored && meta ? *meta : Value(), path, state,
                                     FromSecret(*where), hash_key_);
          }
          // Remember a file that holds exactly what was applied; the stat taken before
          // the read, so a write racing with it changes ctime and forces a re-read.
          const Value* live_spec = live.exists ? live.body.Find("spec") : nullptr;
          const Value* stored_spec = stored ? stored->Find("spec") : nullptr;
          if (stored) {
            const bool holds = have_stat && S_ISREG(st.st_mode) && live_spec && stored_spec &&
                               *live_spec == *stored_spec;
            files_.SetVerified(path, holds ? FileStamp::Of(st) : FileStamp{}, since);
            // The applied body itself, not a second copy of its content read from disk
            // (after a restart every file is read once; the plan holds what this returns).
            if (holds && live.body == *stored) live.body = *stored;
          }
        }
      }
      out.push_back(std::move(live));
    }
    return out;
  }

  // A File with inline content, a ConfigMap: their expected body is their own.
  bool ExpectedIsPure(const AppContext&, const Resource& desired) override {
    const ResourceId& id = desired.id();
    if (IsKind(id, "ConfigMap")) return true;
    if (!IsKind(id, "File")) return false;
    const Value* spec = desired.body().Find("spec");
    return spec && !spec->Find("fromConfigMap") && !spec->Find("fromSecret");
  }

  // A stored ConfigMap or Secret is its live state; a File, when the watcher has read no
  // event for it since a stat showed what Observe or the apply verified (no system call),
  // or else when an lstat still shows that stamp. Asked in the order of the inventory
  // (the engine's apply order), each id is found at the next entry of the cached
  // inventory; a File known unchanged at the last call and not named by
  // ManagedFiles::ChangedSince since is known unchanged without looking it up at all.
  using Target::UnchangedSinceApplied;
  std::vector<bool> UnchangedSinceApplied(const AppContext& ctx,
                                          const std::vector<const ResourceId*>& ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    Settle();
    // Every change made before this call has its event read (and counted) now.
    if (watcher_) watcher_->Drain();
    std::vector<bool> out(ids.size(), false);
    auto cached = inventories_.find(ctx.app);
    AppInventory* inv =
        cached != inventories_.end() && cached->second.list ? &cached->second : nullptr;
    // A moment before anything is looked at: what changes from now on, ChangedSince names.
    const uint64_t now = files_.Tick();
    std::vector<std::string> changed_paths;
    const bool trusted =
        inv && inv->known_at != 0 && files_.ChangedSince(inv->known_at, &changed_paths);
    // The entries of the changed paths (a few): each path is one File of one Application.
    // A path no longer managed (or another Application's) is looked for by path instead.
    std::vector<uint8_t> stale;
    bool by_path = false;
    if (trusted && !changed_paths.empty()) {
      stale.assign(inv->objects.size(), 0);
      for (const std::string& path : changed_paths) {
        std::optional<ManagedFile> file = files_.Find(path);
        if (!file || file->app() != ctx.app) {
          by_path = true;
          break;
        }
        const StoredObject* obj = StoredObjectPtr(ctx.app, file->id());
        const size_t slot = obj ? SlotOf(*inv, obj) : kNoSlot;
        if (slot == kNoSlot) {  // not found by its row: by path then (never assume quiet)
          by_path = true;
          break;
        }
        stale[slot] = 1;
      }
    }
    const std::unordered_set<std::string_view> changed =
        by_path ? std::unordered_set<std::string_view>(changed_paths.begin(), changed_paths.end())
                : std::unordered_set<std::string_view>();
    std::vector<uint8_t> known(inv ? inv->objects.size() : 0, 0);
    // Where the next id is expected: the entry after the last one found in order (an
    // entry written since the last plan is last, asked for where it was: looked up).
    size_t next = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      const ResourceId& id = *ids[i];
      size_t slot = kNoSlot;
      for (size_t j = next; inv && j < inv->objects.size() && j <= next + 16; ++j) {
        if (inv->objects[j] && (*inv->list)[j].id == id) {
          slot = j;
          next = j + 1;
          break;
        }
      }
      const StoredObject* obj = slot != kNoSlot ? inv->objects[slot] : StoredObjectPtr(ctx.app, id);
      // Not applied, a row that did not read, or one not read yet (on_disk: no Expected()
      // since the start found it equal, so the engine asks Observe, which reads it).
      if (!obj || obj->body.is_null()) continue;
      if (inv && slot == kNoSlot) slot = SlotOf(*inv, obj);
      // Known at the last call (a File: only those are), and not changed since.
      if (slot != kNoSlot && trusted && inv->known[slot] && (stale.empty() || !stale[slot])) {
        const Value* path = by_path ? obj->body.FindPath({"spec", "path"}) : nullptr;
        if (!by_path || (path && path->is_string() && !changed.count(path->as_string()))) {
          out[i] = true;
          known[slot] = 1;
          continue;
        }
      }
      if (IsKind(id, "ConfigMap") || IsKind(id, "Secret")) {
        out[i] = true;
      } else if (IsKind(id, "File")) {
        const Value* path = obj->body.FindPath({"spec", "path"});
        if (!path || !path->is_string()) continue;
        bool quiet = false;
        out[i] = files_.KnownUnchanged(path->as_string(), &quiet);
        if (slot != kNoSlot) known[slot] = out[i] && quiet;
      }
    }
    if (inv && !ids.empty()) {
      inv->known = std::move(known);
      inv->known_at = now;
    }
    return out;
  }

  Result<Change> Apply(const AppContext& ctx, const Resource& desired) override {
    Result<Change> change = ApplyOne(ctx, desired);
    if (options_.crash_after_applies > 0 && ++applies_ >= options_.crash_after_applies) {
      writer_.WaitWrites();  // some files are on disk: what a crash test needs to look at
      ::kill(::getpid(), SIGKILL);
    }
    return change;
  }

  Result<Change> ApplyOne(const AppContext& ctx, const Resource& desired) {
    if (IsKind(desired.id(), "File")) {
      ASSIGN_OR_RETURN(ResolvedFile file, ResolveFile(ctx, desired, options_.allow_paths, hash_key_,
                                                      PathCheck::kLexical));
      std::lock_guard<std::mutex> lock(mu_);
      SharePlanned(desired, &file.body);
      const size_t staged_before = staged_files_.size();
      Result<Change> change = ApplyFile(ctx, desired.id(), file);
      plan_dirs_.Clear();  // it may have made or replaced directories
      // A staged file's directory is not there to watch yet: Settle() refreshes the watcher.
      if (watcher_ && staged_files_.size() == staged_before) watcher_->Refresh();
      return change;
    }
    ASSIGN_OR_RETURN(Value expected, Expected(ctx, desired));
    std::lock_guard<std::mutex> lock(mu_);
    Settle();  // a Process may read the Files applied before it
    Result<Change> change = IsRunning(desired.id()) ? ApplyRunning(ctx, desired, expected)
                                                    : ApplyStored(ctx, desired.id(), expected);
    // Any kind: a Process may change directories (its command, its working directory).
    plan_dirs_.Clear();
    if (watcher_) watcher_->Refresh();
    return change;
  }

  Result<Change> Remove(const AppContext& ctx, const ResourceId& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Settle();
    ASSIGN_OR_RETURN(std::optional<Value> stored, StoredBody(ctx.app, id));
    if (!stored && unreadable_.count(BodyKey(ctx.app, id.Key()))) {
      // A Secret record that did not decrypt: only its row is left to remove.
      RETURN_IF_ERROR(store_->Delete(ctx.app, id.Key()));
      EraseRow(&unreadable_, ctx.app, BodyKey(ctx.app, id.Key()));
      writer_.Touched(options_.state_dir);
      return Change{.id = id, .kind = ChangeKind::kDeleted, .message = "removed"};
    }
    if (!stored) {
      return Change{.id = id,
                    .kind = ChangeKind::kUnchanged,
                    .message = "not in the inventory of " + ctx.app};
    }
    std::string message = "removed";
    if (IsKind(id, "File")) {
      const std::string path = PathOf(*stored);
      ASSIGN_OR_RETURN(message, RemoveManagedFile(ctx.app, id, path));
    } else if (IsRunning(id)) {
      RETURN_IF_ERROR(supervisor_->Remove(ctx.app, id));
      message = "stopping its replicas";
    }
    RETURN_IF_ERROR(store_->Delete(ctx.app, id.Key()));
    EraseRow(&bodies_, ctx.app, BodyKey(ctx.app, id.Key()));
    writer_.Touched(options_.state_dir);
    plan_dirs_.Clear();
    if (watcher_) watcher_->Refresh();
    return Change{.id = id, .kind = ChangeKind::kDeleted, .message = message};
  }

  Health AssessHealth(const AppContext& ctx, const LiveObject& live) override {
    if (!Handles(live.id)) return {HealthStatus::kUnknown, "not a local kind"};
    if (!live.exists) return {HealthStatus::kMissing, live.id.ToString() + " does not exist"};
    if (IsKind(live.id, "ConfigMap") || IsKind(live.id, "Secret"))
      return {HealthStatus::kHealthy, ""};
    if (IsRunning(live.id)) return supervisor_->HealthOf(ctx.app, live.id);
    std::lock_guard<std::mutex> lock(mu_);
    Settle();
    Result<const Value*> applied = StoredPtr(ctx.app, live.id);
    if (!applied.ok()) return {HealthStatus::kUnknown, applied.status().message()};
    const Value* stored = *applied;
    if (live.body.FindPath({"spec", "type"})) {
      return {HealthStatus::kDegraded, PathOf(live.body) + " is a " +
                                           live.body.FindPath({"spec", "type"})->as_string() +
                                           ", not a file"};
    }
    const Value* live_spec = live.body.Find("spec");
    const Value* want_spec = stored ? stored->Find("spec") : nullptr;
    if (live_spec && want_spec && *live_spec != *want_spec) {
      return {HealthStatus::kDegraded, PathOf(live.body) + " differs from what was applied"};
    }
    return {HealthStatus::kHealthy, ""};
  }

  // From the copy of local.db in memory (this process is its only writer), in the order
  // Store::ListInventory gives: no query per reconcile, and no scan or sort either while
  // the Application's rows are those of the last call (AppInventory). Either call begins
  // a plan.
  Result<std::vector<InventoryEntry>> Inventory(const std::string& app) override {
    std::lock_guard<std::mutex> lock(mu_);
    BeginPlan();
    return *CurrentInventory(app).list;
  }
  Result<std::shared_ptr<const std::vector<InventoryEntry>>> InventoryOf(
      const AppContext& ctx) override {
    std::lock_guard<std::mutex> lock(mu_);
    BeginPlan();
    return std::shared_ptr<const std::vector<InventoryEntry>>(CurrentInventory(ctx.app).list);
  }

  Status Settle(const AppContext& ctx) override {
    std::lock_guard<std::mutex> lock(mu_);
    Settle();
    auto it = publish_errors_.find(ctx.app);
    if (it == publish_errors_.end()) return Status::Ok();
    Status s = std::move(it->second);
    publish_errors_.erase(it);
    return s;
  }

  Status Flush() override {
    Status committed;
    FileWriter::PendingSync pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Settle();          // an error is its Application's, taken by its Settle(ctx)
      planned_.clear();  // the apply is over
      plan_dirs_.Clear();
      // The batch of inventory rows first, so the syncfs below covers it too; the files
      // written are made durable even when the rows could not be committed.
      committed = store_->Commit();
      if (committed.ok() && !commit_error_.ok()) committed = std::move(commit_error_);
      commit_error_ = Status::Ok();
      pending = writer_.BeginSync();
    }
    // The disk's work without the lock: the engine looks at the host (health) meanwhile.
    Status synced = FileWriter::FinishSync(pending);
    if (!committed.ok()) return committed.WithContext("local.db");
    return synced;
  }

  void WaitStarted() override {
    if (supervisor_) supervisor_->WaitLaunched(std::chrono::seconds(60));
  }

  void Watch(std::function<void(const std::string&, const ResourceId&)> on_drift) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (watcher_) return;
    {
      std::lock_guard<std::mutex> l(cb_mu_);
      drift_fn_ = on_drift;
    }
    watcher_ = std::make_unique<Watcher>(&files_, options_.rescan_interval, std::move(on_drift));
  }

  void WatchHealth(std::function<void(const std::string&, const ResourceId&)> on_health) override {
    std::lock_guard<std::mutex> l(cb_mu_);
    health_fn_ = std::move(on_health);
  }

  void WatchEvents(std::function<void(const TargetEvent&)> on_event) override {
    std::lock_guard<std::mutex> l(cb_mu_);
    event_fn_ = std::move(on_event);
  }

  Result<std::vector<LogSource>> Logs(const std::string& app, const ResourceId& id) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!IsRunning(id) || !StoredObjectPtr(app, id))
        return NotFound(id.ToString() + " is not run by Application " + app);
    }
    return supervisor_->Logs(app, id);
  }

  Result<RunningStatus> Running(const std::string& app, const ResourceId& id) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!IsRunning(id) || !StoredObjectPtr(app, id))
        return NotFound(id.ToString() + " is not run by Application " + app);
    }
    return supervisor_->Running(app, id);
  }

  Result<Change> SetReplicas(const std::string& app, const ResourceId& id, int replicas) override {
    if (replicas < 0 || replicas > 10000) return InvalidArgument("replicas: from 0 to 10000");
    int before;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!IsKind(id, "Process") || !StoredObjectPtr(app, id))
        return NotFound(id.ToString() + " is not a Process of Application " + app);
      before = supervisor_->LiveReplicas(app, id);
    }
    RETURN_IF_ERROR(supervisor_->SetReplicas(app, id, replicas));
    std::function<void(const std::string&, const ResourceId&)> fn;
    {
      std::lock_guard<std::mutex> l(cb_mu_);
      fn = drift_fn_;
    }
    if (fn) fn(app, id);
    return Change{.id = id,
                  .kind = before == replicas ? ChangeKind::kUnchanged : ChangeKind::kConfigured,
                  .message = "replicas " + std::to_string(before) + " -> " +
                             std::to_string(replicas) + " (by hand)"};
  }

 private:
  // A plan begins: the last one's bodies are no longer held, and what it saw of the
  // directories is not trusted. Called under mu_.
  void BeginPlan() {
    planned_.clear();
    plan_dirs_.Clear();
  }

  // Puts the staging directories of this reconcile's new files in place (FileWriter), so
  // whatever looks at the host next sees every file applied so far: called first by every
  // method but the apply of a File. A file that could not be put in place is not managed
  // any more (its row stays: the next reconcile finds it missing and writes it again); the
  // error is logged at once and kept for its Application's Settle(ctx), which the engine
  // calls before any prune (so nothing is pruned in a pass whose new files were lost).
  void Settle() {
    if (writer_.StagedDirs() == 0) return;
    plan_dirs_.Clear();  // directories appear
    std::vector<std::string> failed, failed_writes;
    // Of the files written in the background, by position: staged_files_ is in the order
    // the writer staged them.
    std::vector<FileStamp> stamps;
    // Their rows are committed first, while the writer's thread may still be writing:
    // nothing is left for the journal to write before the files appear (BeforeVisible: a
    // cold sync of 1,000 Files wrote 1 MB there) nor for Flush() to commit. A commit that
    // fails leaves them to the journal, as before; Flush() reports it.
    if (Status c = store_->Commit(); !c.ok() && commit_error_.ok()) commit_error_ = std::move(c);
    Status s = writer_.Publish(&failed, &stamps, &failed_writes);
    const std::unordered_set<std::string> failed_dirs(failed.begin(), failed.end());
    const std::unordered_set<std::string> failed_files(failed_writes.begin(), failed_writes.end());
    // Not the same count (never expected): no stamp is trusted, each file is read when asked.
    if (stamps.size() != staged_files_.size()) stamps.assign(staged_files_.size(), FileStamp{});
    for (size_t i = 0; i < staged_files_.size(); ++i) {
      const StagedFile& f = staged_files_[i];
      // A write that failed loses its own file only; a directory that could not be put in
      // place loses everything beneath it.
      bool lost = failed_files.count(f.path) > 0;
      if (!lost && !failed_dirs.empty()) {
        // The path itself (a file that could not be moved) or a directory above it.
        for (std::string p = f.path; !lost && p.size() > 1; p = fs::Dirname(p))
          lost = failed_dirs.count(p) > 0;
      }
      if (lost) {
        files_.Erase(f.path);
        Status& e = publish_errors_[f.app];
        if (e.ok()) e = s.ok() ? Unavailable(f.path + " could not be put in place") : s;
      } else {
        files_.SetWritten(f.path, stamps[i], f.since);
      }
    }
    std::vector<StagedFile>().swap(staged_files_);
    if (!s.ok()) log::Error("local target: new files not put in place", {{"error", s.message()}});
    if (watcher_) watcher_->Refresh();
  }

  static std::string BodyKey(const std::string& app, const std::string& key) {
    std::string k;
    k.reserve(app.size() + 1 + key.size());
    return k.append(app).append(1, '\x1f').append(key);
  }

  // The body last applied, from the in-memory copy of local.db; nullptr when none.
  // Valid while mu_ is held and the object is not written.
  // `body`, just resolved for an apply, becomes the body Expected() gave the plan for it
  // when they are equal: the plan's body and the applied one (kept in bodies_) then share
  // their nodes instead of being two trees per File. mu_ held.
  void SharePlanned(const Resource& desired, Value* body) {
    if (planned_.empty()) return;
    auto it = planned_.find(&desired);
    if (it == planned_.end()) return;
    if (it->second == *body) *body = std::move(it->second);
    planned_.erase(it);
  }

  // The body Expected() planned for File `desired` in this pass, if its path is the one
  // the desired spec.path resolves to and it takes its content from a Secret exactly when
  // the desired File does; else nullptr.
  const Value* PlannedFor(const AppContext& ctx, const Resource& desired) const {
    if (planned_.empty()) return nullptr;
    auto it = planned_.find(&desired);
    if (it == planned_.end()) return nullptr;
    const Value* spec = desired.body().Find("spec");
    const Value* want = spec && spec->is_object() ? spec->Find("path") : nullptr;
    const Value* have = it->second.FindPath({"spec", "path"});
    if (!want || !have || !want->is_string() || !have->is_string() || want->as_string().empty() ||
        have->as_string() != FilePathOf(ctx, want->as_string()))
      return nullptr;
    const Value* secret = spec->Find("fromSecret");
    if ((secret && !secret->is_null()) != (FromSecret(it->second) != nullptr)) return nullptr;
    return &it->second;
  }

  // A body only in local.db (StoredObject::on_disk) is read from there first and kept.
  Result<const Value*> StoredPtr(const std::string& app, const ResourceId& id) {
    auto it = bodies_.find(BodyKey(app, id.Key()));
    if (it == bodies_.end()) return nullptr;
    StoredObject& obj = it->second;
    if (obj.on_disk) {
      ASSIGN_OR_RETURN(std::optional<ObjectRow> row, store_->Get(app, id.Key()));
      if (!row) return Internal(store_->path() + ": the row of " + id.ToString() + " is gone");
      ASSIGN_OR_RETURN(obj.body, resource::ParseJson(row->body_json, store_->path()));
      obj.on_disk = false;
    }
    return &obj.body;
  }
  Result<std::optional<Value>> StoredBody(const std::string& app, const ResourceId& id) {
    ASSIGN_OR_RETURN(const Value* v, StoredPtr(app, id));
    return v ? std::optional<Value>(*v) : std::optional<Value>();
  }

  // The row of an applied body. A Secret's body is sealed (RowCipher, bound to app and
  // key) and its hash column keyed, so local.db holds nothing of its values that could be
  // read or brute-forced without the key; without a key it is stored as before.
  ObjectRow SealedRow(const std::string& app, const std::string& key, const Value& body,
                      int64_t order) const {
    ObjectRow row{.app = app,
                  .key = key,
                  .order = order,
                  .updated_ms = UnixMillis(std::chrono::system_clock::now())};
    auto id = ResourceId::FromKey(key);
    // Both texts in one walk over the body (a cold sync records every File's).
    std::string json, canonical;
    resource::ToJsonAndCanonicalJson(body, &json, &canonical);
    if (id.ok() && IsKind(*id, "Secret")) {
      row.body_json = cipher_.Seal(json, BodyKey(app, key));
      row.hash = HmacSha256Hex(RowHashKey(), canonical);
    } else {
      row.body_json = std::move(json);
      row.hash = Sha256Hex(canonical);
    }
    return row;
  }

  // `defer_journal`: the row's journal record may wait until a file can appear
  // (FileWriter::SetBeforeVisible), for the row of a new File recorded before its write.
  Status Record(const AppContext& ctx, const ResourceId& id, const Value& expected,
                bool defer_journal = false) {
    ObjectRow row = SealedRow(ctx.app, id.Key(), expected, next_order_++);
    RETURN_IF_ERROR(store_->Put(row, defer_journal));
    std::string key = BodyKey(ctx.app, row.key);
    EraseRow(&unreadable_, ctx.app, key);
    auto [it, inserted] = bodies_.try_emplace(std::move(key));
    if (!inserted) ForgetRow(ctx.app, &it->second);
    it->second = {.body = expected, .order = row.order, .hash = HexDigest(row.hash)};
    AddRow(ctx.app, id, &it->second);
    writer_.Touched(options_.state_dir);
    return Status::Ok();
  }

  Result<Change> ApplyStored(const AppContext& ctx, const ResourceId& id, const Value& expected) {
    ASSIGN_OR_RETURN(std::optional<Value> stored, StoredBody(ctx.app, id));
    if (stored && *stored == expected) return Change{.id = id, .kind = ChangeKind::kUnchanged};
    RETURN_IF_ERROR(Record(ctx, id, expected));
    return Change{.id = id, .kind = stored ? ChangeKind::kConfigured : ChangeKind::kCreated};
  }

  Result<Change> ApplyFile(const AppContext& ctx, const ResourceId& id, const ResolvedFile& file);
  Result<Change> ApplyRunning(const AppContext& ctx, const Resource& desired,
                              const Value& expected);
  Result<std::string> RemoveManagedFile(const std::string& app, const ResourceId& id,
                                        const std::string& path);

  std::mutex mu_;
  const LocalOptions options_;
  FileWriter writer_;  // GUARDED_BY(mu_)
  // Files written into a staging directory, put in place by Settle(), in the order the
  // writer staged them (its stamps come by position). GUARDED_BY(mu_).
  struct StagedFile {
    std::string app;
    std::string path;
    uint64_t since = 0;
  };
  std::vector<StagedFile> staged_files_;
  std::atomic<int64_t> applies_{0};  // Apply calls (LocalOptions::crash_after_applies)
  // GUARDED_BY(mu_): per Application, the first Settle() since its last Settle(ctx) that
  // could not put its files in place (another Application's call may have done the work).
  std::map<std::string, Status> publish_errors_;
  // GUARDED_BY(mu_): the error of a commit Settle() made, until Flush() reports it.
  Status commit_error_;
  // Staging directories open at once, at most (two descriptors each).
  static constexpr size_t kMaxStagedDirs = 32;
  std::unique_ptr<Store> store_;  // GUARDED_BY(mu_)
  int64_t next_order_;            // GUARDED_BY(mu_)
  // An object as local.db holds it: the body last applied and its inventory columns.
  struct StoredObject {
    Value body;  // empty for a row that did not decrypt or parse (unreadable_), or on_disk
    int64_t order = 0;
    // The hash column as its bytes (a third of the hex text, 100,000 of them in a large
    // Application); a column that is not hex never equals a hash (Hex() is "?").
    HexDigest hash;
    // A File's row as the start found it: its body is not in memory but in local.db
    // (StoredPtr reads it), equal to a body whose CanonicalHash is `hash`.
    bool on_disk = false;
  };
  // local.db in memory, by BodyKey. GUARDED_BY(mu_).
  std::unordered_map<std::string, StoredObject> bodies_;
  const std::string hash_key_;  // keys template hashes and File contentHash (local.key)
  const RowCipher cipher_;      // seals Secret rows of local.db (LocalOptions::secret_key)
  // Keys the hash column of Secret rows; derived on first use, as the cipher's key may
  // come later (RowCipher::Deferred).
  const std::string& RowHashKey() const {
    std::call_once(row_hash_once_, [this] {
      row_hash_key_ = cipher_.enabled() ? cipher_.SubKey("local.db row hash") : hash_key_;
    });
    return row_hash_key_;
  }
  mutable std::once_flag row_hash_once_;
  mutable std::string row_hash_key_;
  // The Files' bodies Expected() gave since the last plan began (Inventory), by BodyKey,
  // for SharePlanned; emptied by the next plan and by Flush(). GUARDED_BY(mu_). By the
  // address of the desired resource (the engine asks Expected(), Observe() and Apply() of
  // one pass with the same desired set): no key text per File. A resource at an address
  // an earlier one had is harmless: PlannedFor checks the path and Secret source, and
  // SharePlanned shares only an equal body.
  std::unordered_map<const Resource*, Value> planned_;
  // What this plan's Expected() found of the directories of Files (spec.h); emptied when a
  // plan begins, at Flush, and by any apply, remove or publish. Own lock: Expected() runs
  // without mu_.
  DirCache plan_dirs_;
  // Rows that did not decrypt or parse, by BodyKey. GUARDED_BY(mu_).
  std::unordered_map<std::string, StoredObject> unreadable_;
  // Per Application: its inventory as Inventory() gives it, kept between plans and
  // changed in place as its rows are written (a written row has the newest order, so it
  // goes last); and per entry whether the File was known unchanged and quiet at moment
  // known_at (UnchangedSinceApplied). Many writes at once (a cold sync) drop it instead:
  // it is built again by the next plan.
  struct AppInventory {
    std::shared_ptr<std::vector<InventoryEntry>> list;  // nullptr: to be built
    std::vector<const StoredObject*> objects;  // per entry; nullptr: gone (compacted later)
    std::vector<uint8_t> known;                // per entry
    uint64_t known_at = 0;                     // a ManagedFiles moment; 0: nothing known
    size_t written = 0;                        // rows written since it was built
    size_t dead = 0;                           // entries gone
  };
  static constexpr size_t kNoSlot = SIZE_MAX;

  const StoredObject* StoredObjectPtr(const std::string& app, const ResourceId& id) const {
    auto it = bodies_.find(BodyKey(app, id.Key()));
    return it == bodies_.end() ? nullptr : &it->second;
  }

  // The inventory of `app`, built when it is not kept, without entries that are gone.
  AppInventory& CurrentInventory(const std::string& app) {
    AppInventory& inv = inventories_[app];
    if (!inv.list) {
      const std::string prefix = BodyKey(app, "");
      std::vector<std::pair<std::string_view, const StoredObject*>> rows;
      for (const auto* objects : {&bodies_, &unreadable_}) {
        for (const auto& [key, obj] : *objects) {
          if (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0)
            rows.emplace_back(std::string_view(key).substr(prefix.size()), &obj);
        }
      }
      std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
        return a.second->order != b.second->order ? a.second->order < b.second->order
                                                  : a.first < b.first;
      });
      inv = AppInventory{.list = std::make_shared<std::vector<InventoryEntry>>()};
      inv.list->reserve(rows.size());
      inv.objects.reserve(rows.size());
      for (const auto& [key, obj] : rows) {
        auto id = ResourceId::FromKey(std::string(key));
        if (!id.ok()) continue;  // never stored (LoadManagedFiles skips such rows)
        inv.list->push_back({.id = std::move(*id), .order = obj->order, .applied_hash = obj->hash});
        inv.objects.push_back(obj);
      }
      inv.known.assign(inv.objects.size(), 0);
      return inv;
    }
    if (inv.dead > 0) {
      Writable(inv);
      size_t to = 0;
      for (size_t from = 0; from < inv.objects.size(); ++from) {
        if (!inv.objects[from]) continue;
        if (to != from) {
          (*inv.list)[to] = std::move((*inv.list)[from]);
          inv.objects[to] = inv.objects[from];
          inv.known[to] = inv.known[from];
        }
        ++to;
      }
      inv.list->resize(to);
      inv.objects.resize(to);
      inv.known.resize(to);
      inv.dead = 0;
    }
    return inv;
  }

  // A plan may still hold the list: it is copied before it changes.
  static void Writable(AppInventory& inv) {
    if (inv.list.use_count() > 1)
      inv.list = std::make_shared<std::vector<InventoryEntry>>(*inv.list);
  }

  // The entry of `obj` (a row of `inv`'s Application), found by its order; kNoSlot: none.
  static size_t SlotOf(const AppInventory& inv, const StoredObject* obj) {
    const auto& list = *inv.list;
    auto it = std::lower_bound(list.begin(), list.end(), obj->order,
                               [](const InventoryEntry& e, int64_t o) { return e.order < o; });
    for (; it != list.end() && it->order == obj->order; ++it) {
      const size_t slot = static_cast<size_t>(it - list.begin());
      if (inv.objects[slot] == obj) return slot;
    }
    return kNoSlot;
  }

  // Row `obj` of `app` is about to be written again or erased: its entry is gone.
  void ForgetRow(const std::string& app, const StoredObject* obj) {
    auto it = inventories_.find(app);
    if (it == inventories_.end() || !it->second.list) return;
    AppInventory& inv = it->second;
    const size_t slot = SlotOf(inv, obj);
    // Not found (it should be) or nothing left (a removed Application): dropped, built again
    // when next asked, so no entry can outlive its row.
    if (slot == kNoSlot || inv.dead + 1 == inv.objects.size()) {
      inventories_.erase(it);
      return;
    }
    inv.objects[slot] = nullptr;
    inv.known[slot] = 0;
    ++inv.dead;
  }

  // Row `obj` of `app` was just written (it has the newest order): its entry goes last.
  void AddRow(const std::string& app, const ResourceId& id, const StoredObject* obj) {
    auto it = inventories_.find(app);
    if (it == inventories_.end() || !it->second.list) return;
    AppInventory& inv = it->second;
    if (++inv.written > 64 + inv.objects.size() / 4) {
      inventories_.erase(it);  // many writes: built again when next asked
      return;
    }
    Writable(inv);
    inv.list->push_back({.id = id, .order = obj->order, .applied_hash = obj->hash});
    inv.objects.push_back(obj);
    inv.known.push_back(0);
  }

  // Erases row `key` of `app` from `rows` (bodies_ or unreadable_), if there.
  void EraseRow(std::unordered_map<std::string, StoredObject>* rows, const std::string& app,
                const std::string& key) {
    auto it = rows->find(key);
    if (it == rows->end()) return;
    ForgetRow(app, &it->second);
    rows->erase(it);
  }
  // By Application (see AppInventory). GUARDED_BY(mu_).
  // By Application (see AppInventory). GUARDED_BY(mu_).
  std::unordered_map<std::string, AppInventory> inventories_;
  std::unique_ptr<Supervisor> supervisor_;  // own lock and thread
  std::mutex cb_mu_;
  std::function<void(const std::string&, const ResourceId&)> drift_fn_;   // GUARDED_BY(cb_mu_)
  std::function<void(const std::string&, const ResourceId&)> health_fn_;  // GUARDED_BY(cb_mu_)
  std::function<void(const TargetEvent&)> event_fn_;                      // GUARDED_BY(cb_mu_)
  ManagedFiles files_;                // own lock; read by the watcher thread
  std::unique_ptr<Watcher> watcher_;  // last: stopped before the rest is destroyed
};

Result<Change> LocalTarget::ApplyFile(const AppContext& ctx, const ResourceId& id,
                                      const ResolvedFile& file) {
  const Value& expected = file.body;
  const std::string path = PathOf(expected);
  const std::string& content = file.content;
  const std::string& mode = expected.FindPath({"spec", "mode"})->as_string();
  if (auto owner = files_.Find(path); owner && owner->owner != ManagedFile::OwnerKey(ctx.app, id)) {
    return AlreadyExists("spec.path: " + path + " is already managed by " + owner->id().ToString() +
                         " of Application " + owner->app());
  }
  ASSIGN_OR_RETURN(std::optional<Value> stored, StoredBody(ctx.app, id));
  const std::string old_path = stored ? PathOf(*stored) : "";
  // A new object whose path this reconcile's observation found empty is written without
  // another look (a file appearing there meanwhile is replaced, as one appearing just
  // after the write would be; a directory makes the rename fail, and is then reported).
  const bool assumed_absent = !stored && writer_.TakeAbsent(path);
  FileState state;
  if (!assumed_absent) {
    ASSIGN_OR_RETURN(state, ReadFileState(path));
  }
  const bool matches = state.type == FileState::Type::kRegular && state.content == content &&
                       FormatMode(state.mode) == mode;
  uint64_t written_since = 0;  // a moment before the stamp of the file written below
  // A new object's row goes into the inventory before its file is written (journaled by
  // the store before the file can appear: at once for a file written in place, at Publish
  // for a staged one), so a kill -9 right after the write leaves a file the next start
  // knows it owns: it is pruned if git dropped it meanwhile, never left behind.
  const bool recorded_first = !stored && !matches;

  if (!matches) {
    if (state.type == FileState::Type::kDirectory) {
      return FailedPrecondition(path + " is a directory; plumbline replaces only files");
    }
    // What the file must hold from now on, recorded before the write so the watcher
    // does not take this write for drift.
    if (recorded_first) RETURN_IF_ERROR(Record(ctx, id, expected, /*defer_journal=*/true));
    // A file that cannot go into a staging directory must not overtake the staged ones
    // below its path; and only so many staging directories stay open.
    if ((!recorded_first && writer_.InStage(path)) || writer_.StagedDirs() >= kMaxStagedDirs)
      Settle();
    ManagedFile want = ManagedFromBody(ctx.app, id, expected, hash_key_);
    want.writing = true;
    std::optional<ManagedFile> before = files_.Find(path);
    files_.Set(path, want);
    written_since = files_.Tick();  // before the stamp is taken (ManagedFile::verified)
    bool staged = false;
    Result<FileStamp> written =
        writer_.Write(path, content, ModeBits(mode), /*may_stage=*/recorded_first, &staged);
    if (!written.ok() && assumed_absent) {
      // Something appeared at the path after all: say what.
      auto now = ReadFileState(path);
      if (now.ok() && now->type == FileState::Type::kDirectory)
        written = FailedPrecondition(path + " is a directory; plumbline replaces only files");
    }
    if (!written.ok()) {
      if (before)
        files_.Set(path, *before);
      else
        files_.Erase(path);
      if (recorded_first) {
        (void)store_->Delete(ctx.app, id.Key());
        EraseRow(&bodies_, ctx.app, BodyKey(ctx.app, id.Key()));
      }
      return written.status();
    }
    if (staged)  // still being written until Settle() puts it in place
      staged_files_.push_back({.app = ctx.app, .path = path, .since = written_since});
    else
      files_.SetWritten(path, *written, written_since);
  } else {
    files_.Set(path, ManagedFromBody(ctx.app, id, expected, hash_key_));
  }
  const bool existed = state.type != FileState::Type::kAbsent;

  std::vector<std::string> what;
  if (!old_path.empty() && old_path != path) {
    auto removed = RemoveManagedFile(ctx.app, id, old_path);
    what.push_back("moved from " + old_path +
                   (removed.ok() ? "" : " (old file left: " + removed.status().message() + ")"));
  }
  // An unchanged object keeps its row (and order): no database write per no-op apply.
  if (!recorded_first && (!stored || *stored != expected))
    RETURN_IF_ERROR(Record(ctx, id, expected));

  if (!existed) {
    what.insert(what.begin(), "wrote " + path);
    return Change{.id = id, .kind = ChangeKind::kCreated, .message = Join(what, ", ")};
  }
  const Value* meta =
      (stored && old_path == path) ? stored->Find("metadata") : expected.Find("metadata");
  const Value live =
      LiveFileBody(meta ? *meta : Value(), path, state, FromSecret(expected), hash_key_);
  if (what.empty() && live == expected) return Change{.id = id, .kind = ChangeKind::kUnchanged};
  if (state.type != FileState::Type::kRegular) {
    what.push_back("replaced a " + std::string(FileTypeName(state.type)));
  } else {
    if (state.content != content) what.push_back("content");
    if (FormatMode(state.mode) != mode) {
      what.push_back("mode " + FormatMode(state.mode) + " -> " + mode);
    }
  }
  if (what.empty()) what.push_back("metadata");
  return Change{.id = id, .kind = ChangeKind::kConfigured, .message = Join(what, ", ")};
}

// A Process or Job: hands the resolved template to the supervisor (which rolls out or
// rescales in the background), then records the applied body.
Result<Change> LocalTarget::ApplyRunning(const AppContext& ctx, const Resource& desired,
                                         const Value& expected) {
  const ResourceId& id = desired.id();
  ASSIGN_OR_RETURN(RunTemplate t, ResolveTemplate(ctx, desired, hash_key_));
  ASSIGN_OR_RETURN(std::optional<Value> stored, StoredBody(ctx.app, id));
  const int live_replicas = stored ? supervisor_->LiveReplicas(ctx.app, id) : -1;
  std::vector<std::string> what;
  if (stored && live_replicas >= 0) {
    const Value* old_hash = stored->FindPath({"metadata", "annotations", kTemplateHashAnnotation});
    const bool rolled = !old_hash || !old_hash->is_string() || old_hash->as_string() != t.hash;
    if (rolled)
      what.push_back(IsKind(id, "Job") ? "run again (template changed)"
                                       : "rolling out template " + t.hash);
    if (IsKind(id, "Process") && live_replicas != t.replicas)
      what.push_back("replicas " + std::to_string(live_replicas) + " -> " +
                     std::to_string(t.replicas));
    if (what.empty() && *stored == expected)
      return Change{.id = id, .kind = ChangeKind::kUnchanged};
  }
  RETURN_IF_ERROR(Record(ctx, id, expected));
  // Committed before anything starts: a process running with no inventory row would
  // never be pruned.
  RETURN_IF_ERROR(store_->Commit());
  RETURN_IF_ERROR(supervisor_->Apply(ctx.app, id, t));
  if (!stored || live_replicas < 0) {
    return Change{.id = id,
                  .kind = ChangeKind::kCreated,
                  .message = IsKind(id, "Job") ? "started"
                                               : std::to_string(t.replicas) + " replica" +
                                                     (t.replicas == 1 ? "" : "s")};
  }
  if (what.empty()) what.push_back("metadata");
  return Change{.id = id, .kind = ChangeKind::kConfigured, .message = Join(what, ", ")};
}

// Removes a file this app+id owns. Refuses paths no longer allowed (the allow list may
// have shrunk, or a directory on the way became a symlink). Returns what happened.
Result<std::string> LocalTarget::RemoveManagedFile(const std::string& app, const ResourceId& id,
                                                   const std::string& path) {
  auto owner = files_.Find(path);
  if (owner && owner->owner != ManagedFile::OwnerKey(app, id)) {
    // Another object took the path over (e.g. a rename between two Files): not ours.
    return "left " + path + ": now managed by " + owner->id().ToString();
  }
  Status allowed = CheckWritable(options_.allow_paths, path);
  if (!allowed.ok()) return allowed.WithContext("not removing " + path);
  ASSIGN_OR_RETURN(FileState state, ReadFileState(path));
  files_.Erase(path);  // before the unlink, so the watcher does not report it
  if (state.type == FileState::Type::kAbsent) return path + " was already gone";
  Status removed = RemoveFileEntry(path);
  if (!removed.ok()) {
    if (owner) files_.Set(path, *owner);
    return removed;
  }
  writer_.Touched(fs::Dirname(path));
  return "removed " + path;
}

}  // namespace

Result<std::unique_ptr<Target>> NewLocalTarget(const LocalOptions& options) {
  if (options.state_dir.empty()) return InvalidArgument("local target: no state directory");
  LocalOptions opts = options;
  for (std::string& allowed : opts.allow_paths) {
    if (allowed.empty() || allowed[0] != '/') {
      return InvalidArgument("--allow-path " + allowed + ": must be an absolute path");
    }
    allowed = fs::NormalizePath(allowed);
  }
  RETURN_IF_ERROR(fs::MakeDirs(opts.state_dir));
  const std::string db_path = fs::JoinPath(opts.state_dir, "local.db");
  RowCipher cipher;
  if (opts.secret_key_source) {
    cipher = RowCipher::Deferred(std::move(opts.secret_key_source));
    opts.secret_key_source = nullptr;
  } else {
    ASSIGN_OR_RETURN(cipher, RowCipher::New(opts.secret_key));
  }
  opts.secret_key.clear();  // the cipher holds it; no second copy
  if (!cipher.enabled()) {
    static std::once_flag warned;
    std::call_once(warned, [&] {
      log::Warn("local target: no secret key; Secret data is stored unencrypted in local.db",
                {{"db", db_path}});
    });
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(db_path));
  ASSIGN_OR_RETURN(int64_t max_order, store->MaxOrder());
  // The key of template hashes: random per state directory, never leaves it.
  const std::string key_path = fs::JoinPath(opts.state_dir, "local.key");
  std::string hash_key;
  if (auto k = fs::ReadFile(key_path); k.ok() && k->size() >= 32) {
    hash_key = Trim(*k);
  } else {
    hash_key = RandomHex(32);
    RETURN_IF_ERROR(fs::WriteFileAtomic(key_path, hash_key + "\n", 0600, true));
  }
  ASSIGN_OR_RETURN(auto supervisor, Supervisor::Open({.state_dir = opts.state_dir,
                                                      .shim_exe = opts.shim_exe,
                                                      .tick = opts.supervise_interval,
                                                      .backoff_initial = opts.restart_backoff,
                                                      .backoff_max = opts.restart_backoff_max,
                                                      .backoff_reset = opts.restart_backoff_reset,
                                                      .log_max_bytes = opts.log_max_bytes,
                                                      .log_files = opts.log_files}));
  auto target =
      std::make_unique<LocalTarget>(std::move(opts), std::move(store), max_order + 1,
                                    std::move(hash_key), std::move(cipher), std::move(supervisor));
  RETURN_IF_ERROR(target->LoadManagedFiles().WithContext(db_path));
  return std::unique_ptr<Target>(std::move(target));
}

}  // namespace plumb::target::local
