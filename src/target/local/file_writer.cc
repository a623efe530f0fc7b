#include "target/local/file_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <system_error>
#include <utility>

#include "core/fs.h"
#include "core/log.h"
#include "core/strings.h"
#include "target/local/spec.h"

namespace plumb::target::local {

FileWriter::FileWriter(std::vector<std::string> allow_paths, std::string state_dir, bool durable)
    : allow_paths_(std::move(allow_paths)), state_dir_(std::move(state_dir)), durable_(durable) {}

namespace {

constexpr const char* kStagesFile = "local.stages";
constexpr const char* kStagePrefix = ".plumb-tmp-";

// A staging directory's name: like a temp file's (the watcher ignores them), unpredictable.
std::string StageName(const std::string& final_name) {
  return kStagePrefix + final_name + ".d" + fs::UniqueSuffix();
}

// One field of a local.stages record: its length, ':', its bytes.
void AppendField(std::string* out, const std::string& field) {
  *out += std::to_string(field.size());
  *out += ':';
  *out += field;
}

bool ReadField(const std::string& data, size_t* pos, std::string* field) {
  size_t colon = data.find(':', *pos);
  if (colon == std::string::npos || colon == *pos || colon - *pos > 6) return false;
  size_t n = 0;
  for (size_t i = *pos; i < colon; ++i) {
    if (data[i] < '0' || data[i] > '9') return false;
    n = n * 10 + static_cast<size_t>(data[i] - '0');
  }
  if (colon + 1 + n > data.size()) return false;
  *field = data.substr(colon + 1, n);
  *pos = colon + 1 + n;
  return true;
}

// Moves every entry of the directory `from` into the directory `to` (both below an allowed
// directory), each by one rename: a file replaces what is there (as a write would), a
// directory goes in whole when its name is free, else is merged the same way. `display`
// names `to`; what could not be moved is appended to `failed`.
Status MergeInto(int from, int to, const std::string& display, std::vector<std::string>* failed) {
  int list_fd = ::openat(from, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (list_fd < 0)
    return Unavailable("read a staging directory: " + std::string(std::strerror(errno)));
  DIR* d = ::fdopendir(list_fd);
  if (d == nullptr) {
    ::close(list_fd);
    return Unavailable("read a staging directory: " + std::string(std::strerror(errno)));
  }
  std::vector<std::pair<std::string, bool>> entries;  // name, is a directory
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    bool dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      dir = ::fstatat(from, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    entries.emplace_back(std::move(n), dir);
  }
  ::closedir(d);
  Status first;
  auto fail = [&](const std::string& what, Status s) {
    failed->push_back(what);
    if (first.ok()) first = std::move(s);
  };
  for (const auto& [name, dir] : entries) {
    const std::string where = display + "/" + name;
    if (!dir) {
      if (::renameat(from, name.c_str(), to, name.c_str()) != 0)
        fail(where, Unavailable("rename to " + where + ": " + std::strerror(errno)));
      continue;
    }
    if (::renameat2(from, name.c_str(), to, name.c_str(), RENAME_NOREPLACE) == 0) continue;
    if (errno != EEXIST) {
      fail(where, Unavailable("rename to " + where + ": " + std::strerror(errno)));
      continue;
    }
    auto sub_to = fs::OpenDirBeneath(to, name, /*no_symlinks=*/true);
    int sub_from = ::openat(from, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (!sub_to.ok() || sub_from < 0) {
      fail(where, sub_to.ok() ? Unavailable("open a staging directory: " +
                                            std::string(std::strerror(errno)))
                              : FailedPrecondition(where +
                                                   " is not a directory plumbline can "
                                                   "write into (" +
                                                   sub_to.status().message() + ")"));
    } else {
      Status s = MergeInto(sub_from, *sub_to, where, failed);
      if (!s.ok() && first.ok()) first = s;
    }
    if (sub_to.ok()) ::close(*sub_to);
    if (sub_from >= 0) ::close(sub_from);
  }
  return first;
}

}  // namespace

FileWriter::~FileWriter() {
  std::vector<std::string> failed;
  (void)Publish(&failed);  // every staged file is complete: put it in place
  JoinEarlyWriteback();
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(q_mu_);
      stop_ = true;
    }
    q_cv_.notify_all();
    thread_.join();
  }
  for (auto& [dir, fd] : roots_)
    if (fd >= 0) ::close(fd);
  if (stages_fd_ >= 0) ::close(stages_fd_);
}

bool FileWriter::InStage(const std::string& path) const {
  if (stages_.empty()) return false;
  for (std::string dir = fs::Dirname(path);; dir = fs::Dirname(dir)) {
    if (stages_.count(dir)) return true;
    if (dir == "/" || dir == ".") return false;
  }
}

Status FileWriter::RecordStage(const std::string& root, const std::string& parent_rel,
                               const std::string& name) {
  if (stages_fd_ < 0) {
    const std::string file = fs::JoinPath(state_dir_, kStagesFile);
    stages_fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (stages_fd_ < 0) return Unavailable("open " + file + ": " + std::strerror(errno));
  }
  std::string record;
  AppendField(&record, root);
  AppendField(&record, parent_rel);
  AppendField(&record, name);
  record += '\n';
  // One write(2): a kill -9 leaves the record whole or not at all (before the mkdir).
  ssize_t n = ::write(stages_fd_, record.data(), record.size());
  if (n != static_cast<ssize_t>(record.size()))
    return Unavailable(std::string("write ") + kStagesFile + ": " + std::strerror(errno));
  return Status::Ok();
}

Result<FileStamp> FileWriter::WriteStaged(int root_fd, const std::string& root,
                                          const std::string& rel, const std::string& path,
                                          const std::string& content, int mode) {
  // In a staging directory already made for this path's new directory (or an ancestor)?
  std::string final_dir;
  for (std::string dir = fs::Dirname(path); dir.size() > root.size(); dir = fs::Dirname(dir)) {
    if (stages_.count(dir)) {
      final_dir = dir;
      break;
    }
  }
  if (final_dir.empty()) {
    // The first directory on the way that is missing: its parent is where the staging
    // directory goes.
    const std::vector<std::string> parts = Split(fs::Dirname(rel), '/');
    std::string parent_rel = ".";
    size_t missing = parts.size();
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string prefix = parent_rel == "." ? parts[i] : parent_rel + "/" + parts[i];
      auto fd = fs::OpenDirBeneath(root_fd, prefix);
      if (fd.ok()) {
        ::close(*fd);
        parent_rel = prefix;
        continue;
      }
      if (fd.status().code() != Code::kNotFound) return fd.status();
      missing = i;
      break;
    }
    if (missing == parts.size()) return NotFound("no directory to stage for " + path);
    ASSIGN_OR_RETURN(int parent_fd, fs::OpenDirBeneath(root_fd, parent_rel));
    Stage stage{
        .parent_fd = parent_fd, .name = StageName(parts[missing]), .final_name = parts[missing]};
    Status recorded = RecordStage(root, parent_rel, stage.name);
    if (recorded.ok() && ::mkdirat(parent_fd, stage.name.c_str(), 0777) != 0)
      recorded = Unavailable("mkdir " + stage.name + ": " + std::strerror(errno));
    if (recorded.ok()) {
      stage.fd =
          ::openat(parent_fd, stage.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (stage.fd < 0) {
        recorded = Unavailable("open " + stage.name + ": " + std::strerror(errno));
        (void)::unlinkat(parent_fd, stage.name.c_str(), AT_REMOVEDIR);
      }
    }
    if (!recorded.ok()) {
      ::close(parent_fd);
      return recorded;
    }
    final_dir =
        fs::JoinPath(root, parent_rel == "." ? parts[missing] : parent_rel + "/" + parts[missing]);
    stages_.emplace(final_dir, stage);
    created_dirs_ = true;
  }
  const Stage& stage = stages_.at(final_dir);
  Enqueue({.stage_fd = stage.fd,
           .in_stage = path.substr(final_dir.size() + 1),
           .path = path,
           .final_dir = final_dir,
           .content = content,
           .mode = mode,
           .index = staged_count_++});
  return FileStamp{};
}

Result<FileStamp> FileWriter::WriteInStage(const StagedWrite& w) {
  // Directories below the staged one are made inside it as needed (nobody sees them yet).
  auto written =
      fs::WriteFileBeneath(w.stage_fd, w.in_stage, w.path, w.content, w.mode, /*exclusive=*/true);
  if (!written.ok() && written.status().code() == Code::kNotFound) {
    std::string sub;
    for (const std::string& part : Split(fs::Dirname(w.in_stage), '/')) {
      sub = sub.empty() ? part : sub + "/" + part;
      if (::mkdirat(w.stage_fd, sub.c_str(), 0777) != 0 && errno != EEXIST)
        return Unavailable("mkdir " + fs::JoinPath(w.final_dir, sub) + ": " + std::strerror(errno));
    }
    written =
        fs::WriteFileBeneath(w.stage_fd, w.in_stage, w.path, w.content, w.mode, /*exclusive=*/true);
  }
  if (!written.ok()) return written.status();
  return written->untouched ? FileStamp::Of(written->st) : FileStamp{};
}

void FileWriter::Enqueue(StagedWrite w) {
  std::unique_lock<std::mutex> lock(q_mu_);
  if (!thread_.joinable()) {
    try {
      thread_ = std::thread([this] { WriteLoop(); });
    } catch (const std::system_error&) {
      // No thread to be had: written here, as before.
      Result<FileStamp> r = WriteInStage(w);
      Done(std::move(w), std::move(r));
      return;
    }
  }
  idle_cv_.wait(lock, [this] { return queue_.size() < kMaxQueued; });
  queue_.push_back(std::move(w));
  // The thread is woken once kWakeEvery writes wait (WaitWrites wakes it for the rest):
  // woken per file, it emptied the queue and slept again each time, two futex calls a file.
  const bool wake = queue_.size() >= kWakeEvery;
  lock.unlock();
  if (wake) q_cv_.notify_one();
}

void FileWriter::WriteLoop() {
  std::unique_lock<std::mutex> lock(q_mu_);
  std::deque<StagedWrite> batch;
  std::vector<Result<FileStamp>> results;
  while (true) {
    q_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to write
    // Everything queued at once: the lock is taken twice a batch, not twice a file (the
    // caller, queueing the next files meanwhile, waited for it about once a file).
    batch.swap(queue_);
    writing_ = true;
    lock.unlock();
    idle_cv_.notify_all();  // room in the queue
    for (const StagedWrite& w : batch) results.push_back(WriteInStage(w));
    lock.lock();
    writing_ = false;
    for (size_t i = 0; i < batch.size(); ++i) Done(std::move(batch[i]), std::move(results[i]));
    batch.clear();
    results.clear();
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

void FileWriter::Done(StagedWrite&& w, Result<FileStamp> r) {
  if (done_stamps_.size() <= w.index) done_stamps_.resize(w.index + 1);
  if (r.ok())
    done_stamps_[w.index] = *r;
  else
    done_errors_.emplace_back(std::move(w.path), r.status());
}

void FileWriter::WaitWrites() {
  std::unique_lock<std::mutex> lock(q_mu_);
  if (!queue_.empty()) q_cv_.notify_one();  // fewer than kWakeEvery may wait unseen
  idle_cv_.wait(lock, [this] { return queue_.empty() && !writing_; });
}

Status FileWriter::Publish(std::vector<std::string>* failed, std::vector<FileStamp>* stamps,
                           std::vector<std::string>* failed_writes) {
  Status first;
  // The staged files first: each one is complete, or reported and not there.
  WaitWrites();
  std::vector<FileStamp> done;
  std::vector<std::pair<std::string, Status>> errors;
  {
    std::lock_guard<std::mutex> lock(q_mu_);
    done.swap(done_stamps_);
    errors.swap(done_errors_);
  }
  done.resize(staged_count_);
  staged_count_ = 0;
  for (auto& [path, error] : errors) {
    if (first.ok()) first = error;
    (failed_writes ? failed_writes : failed)->push_back(path);
  }
  if (stamps)
    *stamps = std::move(done);
  else
    std::vector<FileStamp>().swap(done);
  bool left_over = false;  // a staging directory that could not be removed keeps its record
  // Nothing appears before the caller is ready for it (SetBeforeVisible).
  const Status ready = stages_.empty() ? Status::Ok() : BeforeVisible();
  for (auto& [final_dir, stage] : stages_) {
    Status s;
    if (!ready.ok()) {
      s = ready;
      failed->push_back(final_dir);
      if (!fs::RemoveTreeAt(stage.parent_fd, stage.name, final_dir + " (staging)").ok())
        left_over = true;
    } else if (::renameat2(stage.parent_fd, stage.name.c_str(), stage.parent_fd,
                           stage.final_name.c_str(), RENAME_NOREPLACE) != 0) {
      int err = errno;
      if (err == EINVAL || err == ENOSYS) {
        // No RENAME_NOREPLACE on this file system: the directory is made, and takes the
        // files one by one as a directory that appeared would.
        if (::mkdirat(stage.parent_fd, stage.final_name.c_str(), 0777) == 0 || errno == EEXIST)
          err = EEXIST;
      }
      if (err != EEXIST) {
        s = Unavailable("rename a staging directory to " + final_dir + ": " + std::strerror(err));
        failed->push_back(final_dir);
        if (!fs::RemoveTreeAt(stage.parent_fd, stage.name, final_dir + " (staging)").ok())
          left_over = true;
      } else {
        // Something appeared there meanwhile: a directory takes the files one by one; a
        // file or a symlink is not written through.
        auto to = fs::OpenDirBeneath(stage.parent_fd, stage.final_name, /*no_symlinks=*/true);
        if (to.ok()) {
          s = MergeInto(stage.fd, *to, final_dir, failed);
          ::close(*to);
        } else {
          s = FailedPrecondition(final_dir + " appeared and is not a directory plumbline can " +
                                 "write into (" + to.status().message() + ")");
          failed->push_back(final_dir);
        }
        Status removed = fs::RemoveTreeAt(stage.parent_fd, stage.name, final_dir + " (staging)");
        if (!removed.ok()) left_over = true;
        if (s.ok()) s = removed;
      }
    }
    if (!s.ok() && first.ok()) first = s;
    ::close(stage.fd);
    ::close(stage.parent_fd);
  }
  stages_.clear();
  // The records go once no staging directory is left; else the next start removes them.
  if (!left_over && stages_fd_ >= 0 && ::ftruncate(stages_fd_, 0) != 0 && first.ok())
    first = Unavailable(std::string("truncate ") + kStagesFile + ": " + std::strerror(errno));
  return first;
}

Status FileWriter::RemoveLeftoverStages() {
  const std::string file = fs::JoinPath(state_dir_, kStagesFile);
  auto data = fs::ReadFile(file);
  if (!data.ok()) return data.status().code() == Code::kNotFound ? Status::Ok() : data.status();
  Status first;
  size_t pos = 0;
  while (pos < data->size()) {
    std::string root, parent_rel, name;
    if (!ReadField(*data, &pos, &root) || !ReadField(*data, &pos, &parent_rel) ||
        !ReadField(*data, &pos, &name) || pos >= data->size() || (*data)[pos] != '\n')
      break;  // a torn last record (its directory was never made)
    ++pos;
    // Only what this writer would have made: below a directory still allowed, named as a
    // staging directory, one name.
    bool allowed = false;
    for (const std::string& a : allow_paths_) allowed |= a == root;
    if (!allowed || !StartsWith(name, kStagePrefix) || name.find('/') != std::string::npos)
      continue;
    auto root_fd = fs::OpenRoot(root);
    if (!root_fd.ok()) continue;
    auto parent = fs::OpenDirBeneath(*root_fd, parent_rel);
    ::close(*root_fd);
    if (!parent.ok()) continue;
    Status s = fs::RemoveTreeAt(*parent, name, fs::JoinPath(fs::JoinPath(root, parent_rel), name));
    ::close(*parent);
    if (!s.ok() && first.ok()) first = s;
  }
  // Kept while a directory could not be removed: the next start tries again.
  if (first.ok() && ::truncate(file.c_str(), 0) != 0)
    first = Unavailable("truncate " + file + ": " + std::strerror(errno));
  return first;
}

Result<FileStamp> FileWriter::Write(const std::string& path, const std::string& content, int mode,
                                    bool may_stage, bool* staged) {
  if (staged) *staged = false;
  Result<FileStamp> written = Unimplemented("");
  // Below a directory staged already: no look at the place it is not in yet.
  const bool in_stage = may_stage && InStage(path);
  if (beneath_works_ && !in_stage) {
    RETURN_IF_ERROR(BeforeVisible());
    written = WriteBeneath(path, content, mode);
    if (!written.ok() && written.status().code() == Code::kUnimplemented) beneath_works_ = false;
  }
  if (may_stage && (in_stage || (!written.ok() && written.status().code() == Code::kNotFound))) {
    // Its directory is missing: a new object's file goes into a staging directory.
    for (const std::string& allowed : allow_paths_) {
      if (path == allowed || !fs::IsUnder(path, allowed)) continue;
      auto it = roots_.find(allowed);
      if (it == roots_.end() || it->second < 0) break;
      auto put =
          WriteStaged(it->second, allowed, path.substr(allowed == "/" ? 1 : allowed.size() + 1),
                      path, content, mode);
      if (put.ok()) {
        if (staged) *staged = true;
        ++written_count_;
        touched_dirs_.insert(fs::Dirname(path));
        MaybeWriteBackEarly(allowed);
        return put;
      }
      break;  // the careful route below says what is wrong
    }
  }
  // Whatever the fast route could not do, the careful one does or refuses with the
  // reason (a symlink leading out, a directory at the path, ...).
  if (!written.ok()) {
    RETURN_IF_ERROR(BeforeVisible());
    written = WriteCareful(path, content, mode);
  }
  if (!written.ok()) return written;
  ++written_count_;
  if (written_.size() <= kMaxFsyncFiles) written_.push_back(path);
  touched_dirs_.insert(fs::Dirname(path));
  for (const std::string& allowed : allow_paths_) {
    if (path != allowed && fs::IsUnder(path, allowed)) {
      MaybeWriteBackEarly(allowed);
      break;
    }
  }
  return written;
}

void FileWriter::MaybeWriteBackEarly(const std::string& allowed) {
  if (!durable_ || written_count_ < early_at_) return;
  early_at_ = written_count_ + kEarlyWritebackFiles;
  if (early_running_.load()) return;  // one at a time
  JoinEarlyWriteback();
  early_running_ = true;
  try {
    early_ = std::thread([this, dir = allowed] {
      // An allowed directory (the operator's, not the repository's). One that cannot be
      // opened is skipped: Sync() syncs that file system anyway. A failed syncfs is Sync()'s
      // error (see the header): the kernel will not report it again to the final syncfs.
      int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0) {
        const int rc = early_syncfs_ ? early_syncfs_(fd) : ::syncfs(fd);
        const int e = errno;
        ::close(fd);
        if (rc != 0 && early_errno_.load() == 0) {
          early_error_dir_ = dir;
          early_errno_.store(e != 0 ? e : EIO);
        }
      }
      early_running_ = false;
    });
  } catch (const std::system_error&) {
    early_running_ = false;  // no thread to be had: Sync() does it all
  }
}

void FileWriter::JoinEarlyWriteback() {
  if (early_.joinable()) early_.join();
}

Result<FileStamp> FileWriter::WriteBeneath(const std::string& path, const std::string& content,
                                           int mode) {
  // The allowed directory `path` lies strictly below, lexically (Apply checked that).
  const std::string* root = nullptr;
  for (const std::string& allowed : allow_paths_) {
    if (path != allowed && fs::IsUnder(path, allowed)) {
      root = &allowed;
      break;
    }
  }
  if (!root) return PermissionDenied(path + " is outside the allowed paths");
  auto [it, inserted] = roots_.emplace(*root, -1);
  if (inserted) {
    auto fd = fs::OpenRoot(*root);
    if (fd.ok()) it->second = *fd;
  }
  if (it->second < 0) return NotFound("allowed directory " + *root + " cannot be opened");
  const std::string rel = path.substr(*root == "/" ? 1 : root->size() + 1);
  ASSIGN_OR_RETURN(fs::WrittenFile w, fs::WriteFileBeneath(it->second, rel, path, content, mode));
  return w.untouched ? FileStamp::Of(w.st) : FileStamp{};
}

Result<FileStamp> FileWriter::WriteCareful(const std::string& path, const std::string& content,
                                           int mode) {
  // Checked before the directories are made (no directory is created through a symlink
  // leading out) and again after (a symlink may have appeared meanwhile).
  RETURN_IF_ERROR(CheckWritable(allow_paths_, path));
  created_dirs_ = true;
  RETURN_IF_ERROR(fs::MakeDirs(fs::Dirname(path)));
  RETURN_IF_ERROR(CheckWritable(allow_paths_, path));
  RETURN_IF_ERROR(fs::WriteFileAtomic(path, content, mode, false));
  // The stamp as Observe takes one (stat, then read and compare): a write racing with
  // this one moves ctime, so it never passes for ours.
  const FileStamp stamp = FileStamp::At(path);
  auto back = ReadFileState(path);
  if (stamp.ino != 0 && back.ok() && back->type == FileState::Type::kRegular &&
      back->content == content && back->mode == mode)
    return stamp;
  return FileStamp{};
}

void FileWriter::NoteAbsent(const std::string& path) { absent_.insert(path); }

void FileWriter::ForgetAbsent() { absent_.clear(); }

bool FileWriter::TakeAbsent(const std::string& path) { return absent_.erase(path) > 0; }

void FileWriter::Touched(const std::string& dir) { touched_dirs_.insert(dir); }

FileWriter::PendingSync FileWriter::BeginSync() {
  PendingSync pending;
  std::vector<std::string> failed;
  pending.published = Publish(&failed);
  JoinEarlyWriteback();
  early_at_ = kEarlyWritebackFiles;
  for (auto& [dir, fd] : roots_)
    if (fd >= 0) ::close(fd);
  roots_.clear();
  absent_.clear();
  pending.durable = durable_;
  if (durable_) {
    pending.each = written_count_ <= kMaxFsyncFiles && !created_dirs_;
    if (pending.each) pending.files = std::move(written_);
    pending.dirs = std::move(touched_dirs_);
    pending.state_dir = state_dir_;
    if (const int e = early_errno_.load(); e != 0) {
      pending.early = Status(Code::kUnavailable, "syncfs " + early_error_dir_ +
                                                     " (early writeback): " + std::strerror(e));
    }
  }
  early_errno_ = 0;
  early_error_dir_.clear();
  written_.clear();
  written_count_ = 0;
  created_dirs_ = false;
  touched_dirs_.clear();
  return pending;
}

Status FileWriter::FinishSync(const PendingSync& pending) {
  Status s;
  if (pending.durable) {
    s = pending.each ? SyncEach(pending) : SyncFilesystems(pending);
    if (s.ok() && !pending.early.ok()) s = pending.early;
  }
  return pending.published.ok() ? s : pending.published;
}

// A few files: fsync each, then the directories whose entries changed (the renames), and
// local.db's files when it was written. Cheaper than syncfs, which flushes everything
// dirty on the file system (27 ms for a one-file commit on the benchmark machine).
Status FileWriter::SyncEach(const PendingSync& pending) {
  Status first_error;
  auto keep = [&](Status s) {
    if (!s.ok() && s.code() != Code::kNotFound && first_error.ok()) first_error = std::move(s);
  };
  for (const std::string& file : pending.files) keep(fs::SyncPath(file));
  if (pending.dirs.count(pending.state_dir)) {
    for (const char* name : {"local.db", "local.db-wal"})
      keep(fs::SyncPath(fs::JoinPath(pending.state_dir, name)));
  }
  for (const std::string& dir : pending.dirs) keep(fs::SyncPath(dir));
  return first_error;
}

Status FileWriter::SyncFilesystems(const PendingSync& pending) {
  std::set<dev_t> synced;
  Status first_error;
  for (std::string dir : pending.dirs) {
    struct stat st;
    while (::stat(dir.c_str(), &st) != 0 && dir != "/") dir = fs::Dirname(dir);
    if (!synced.insert(st.st_dev).second) continue;
    Status s = fs::SyncFilesystem(dir);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

}  // namespace plumb::target::local
