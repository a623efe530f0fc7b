// target/local internal: writes managed files under --allow-path, and makes the writes of
// one reconcile durable. A File is written with few system calls (the profile of a cold
// sync was 16 per file): a temp file created below an open descriptor of its allowed
// directory with openat2(RESOLVE_BENEATH) — the kernel refuses any "..", absolute symlink
// or symlink leading out of it on the way, so the check of the path and the creation are
// one step — then a rename; the stamp of what was written comes from two fstat calls on
// the open file, not from reading it back. Whatever that route cannot do (a directory on
// the way is missing, a symlink inside the allowed directory, a kernel without openat2)
// takes the careful route: create the directories, CheckWritable, write by path, stamp by
// lstat and read-back. Durability is batched: Sync() fsyncs each written file and its
// directory when a reconcile wrote few files, and calls syncfs once per file system when
// it wrote many (or created directories).
//
// New directories are staged: a file of a new object (no row yet: may_stage) whose directory
// does not exist is written into a staging directory beside the first missing one (same
// allowed directory, same file system, named like a temp file so the watcher ignores it),
// created there at its own name at once (nobody else holds a name in it), and the staging
// directory is renamed into place by Publish() (RENAME_NOREPLACE; when something appeared
// at that name meanwhile, its entries are moved into that directory one by one, each a
// rename). So a new directory appears whole, with every file complete, and its files cost
// no temp name and no rename each. Each staging directory is recorded (one write(2)) in
// STATE_DIR/local.stages before it is made; a process killed before Publish() leaves them,
// and the next FileWriter removes them (RemoveLeftoverStages) — their files' rows are in the
// inventory, so the next reconcile writes them again.
// A staged file (nobody sees it before Publish) is written on a thread of the writer's own,
// so a cold sync creates its inodes on a second core while the caller plans the next file;
// Publish waits for those writes first, and a write that failed there is one of the paths
// it reports failed (with the write's error), its stamp one of those it hands back.
// Not thread-safe: LocalTarget calls it under its mutex.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "target/local/file_state.h"

namespace plumb::target::local {

class FileWriter {
 public:
  // Up to this many files written in one reconcile are fsynced one by one (with their
  // directories); above it, or when directories were created, syncfs.
  static constexpr size_t kMaxFsyncFiles = 64;

  // `allow_paths`: absolute and normalised. `state_dir`: where local.db lives (synced
  // when Touched(state_dir) was called). `durable` false: Sync() only forgets.
  FileWriter(std::vector<std::string> allow_paths, std::string state_dir, bool durable);
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  // Writes `content` with `mode` atomically at `path` (absolute, normalised). Returns the
  // stamp of the file as written when nothing else touched it between the write and the
  // stamp; a stamp with ino 0 when that is not known (read the file to know). Errors:
  // PermissionDenied when the path is not allowed (CheckWritable's answer), others from
  // the file system, naming the path.
  // `may_stage`: the file belongs to a new object (see above); `*staged` (when given) tells
  // whether it went into a staging directory: it is visible at `path` only after Publish(),
  // which gives its stamp (this one has ino 0: it may still be being written).
  Result<FileStamp> Write(const std::string& path, const std::string& content, int mode,
                          bool may_stage = false, bool* staged = nullptr);

  // Called before a file or directory this writer makes can appear at its final path: a
  // direct write, the careful route, Publish's renames (only when there is something to
  // put in place). Its error stops that: the write fails with it; Publish puts nothing in
  // place (every staging directory is removed and reported failed). LocalTarget journals
  // there the inventory rows of new files, which nobody can see before (store.h).
  void SetBeforeVisible(std::function<Status()> fn) { before_visible_ = std::move(fn); }
  // Waits until every queued write is done; their results go to `done_stamps_` and
  // `done_errors_` (for Publish; crash tests wait with it before their kill).
  void WaitWrites();

  // Staging directories not yet published; whether `path` lies in one of them.
  size_t StagedDirs() const { return stages_.size(); }
  bool InStage(const std::string& path) const;
  // Renames every staging directory into place (see above), once every staged write is
  // done. Paths (directories or files) that could not be written or put in place are
  // appended to `failed`, their staged copies removed; the stamps of the staged files
  // written are put in `stamps` (when given), by position: the k-th Write() since the last
  // Publish() that said *staged gets stamps[k] (ino 0: failed, or not known). By position,
  // not by path: a cold sync of 100,000 Files stages them all, and a map of their paths
  // was one of the largest things alive at the end of its apply. A staged file whose own
  // write failed goes to `failed_writes` when given (that path only, not what lies beneath
  // it: a File under a path whose write failed as a directory is there), else to `failed`.
  // The first error is returned; everything is still attempted.
  Status Publish(std::vector<std::string>* failed, std::vector<FileStamp>* stamps = nullptr,
                 std::vector<std::string>* failed_writes = nullptr);
  // Removes the staging directories a killed process left (STATE_DIR/local.stages).
  Status RemoveLeftoverStages();

  // The observation of this reconcile found nothing at `path`; TakeAbsent() answers (once)
  // whether it did, so the apply that follows need not look again. Forgotten at Sync()
  // and by ForgetAbsent(), which every Observe calls first: a note left by an Observe
  // that no apply followed (a read-only diff) never outlives the next observation.
  void NoteAbsent(const std::string& path);
  bool TakeAbsent(const std::string& path);
  void ForgetAbsent();

  // An entry of `dir` changed (a file removed), or, for the state directory, local.db.
  void Touched(const std::string& dir);

  // A reconcile that writes many files starts writing them back early: every
  // kEarlyWritebackFiles files, a thread of the writer's own calls syncfs on the file system
  // of the files written (one such call at a time), so the disk works while the apply goes
  // on and Sync() finds less to flush. Only a head start: nothing counts as durable before
  // Sync() returns, which waits for that thread first. An error of an early syncfs is
  // Sync()'s error: since Linux 5.8 a write-back error is reported once per file system
  // to each descriptor opened before it, so the final syncfs (on a new descriptor) would
  // not see it again.
  static constexpr size_t kEarlyWritebackFiles = 2048;
  // Tests only: the early writeback calls `fn` instead of syncfs(2) (a write-back error
  // cannot be had from a healthy disk).
  void SetEarlySyncfsForTest(int (*fn)(int)) { early_syncfs_ = fn; }

  // Makes what was written since the last Sync() durable (see above), and forgets the
  // open allowed directories, so a directory replaced meanwhile is opened again. The first
  // error is returned; everything is still attempted.
  Status Sync() { return FinishSync(BeginSync()); }

  // Sync() in two steps, for a caller that must not hold its lock while the disk works:
  // BeginSync() does what Sync() does up to the flush itself (puts the staged files in
  // place, joins the early writeback, forgets the open directories) and says what is left
  // to flush; FinishSync() flushes that, touching nothing of any writer (any thread, no lock).
  struct PendingSync {
    Status published;  // Publish's error
    Status early;      // an early writeback's error
    bool durable = false;
    bool each = false;  // fsync each file and directory (few files written), else syncfs
    std::vector<std::string> files;
    std::set<std::string> dirs;
    std::string state_dir;
  };
  PendingSync BeginSync();
  static Status FinishSync(const PendingSync& pending);

 private:
  // The fast route; Unimplemented/NotFound/PermissionDenied/... when it cannot write.
  Result<FileStamp> WriteBeneath(const std::string& path, const std::string& content, int mode);
  Result<FileStamp> WriteCareful(const std::string& path, const std::string& content, int mode);
  static Status SyncEach(const PendingSync& pending);
  Status BeforeVisible() { return before_visible_ ? before_visible_() : Status::Ok(); }
  // Starts the early writeback (see above) of the file system of the allowed directory
  // `allowed` when it is due and none is running.
  void MaybeWriteBackEarly(const std::string& allowed);
  void JoinEarlyWriteback();
  std::thread early_;  // the early writeback's thread (joinable: started)
  std::atomic<bool> early_running_{false};
  int (*early_syncfs_)(int) = nullptr;  // nullptr: syncfs(2)
  // The first early syncfs's failure since the last Sync(): its errno (0: none) and the
  // directory it was called on (written before early_errno_ is, read after the join).
  std::atomic<int> early_errno_{0};
  std::string early_error_dir_;
  size_t early_at_ = kEarlyWritebackFiles;  // written_count_ that starts the next one
  static Status SyncFilesystems(const PendingSync& pending);
  // The staging route; NotFound etc. when it cannot write (the caller goes on as before).
  Result<FileStamp> WriteStaged(int root_fd, const std::string& root, const std::string& rel,
                                const std::string& path, const std::string& content, int mode);
  Status RecordStage(const std::string& root, const std::string& parent_rel,
                     const std::string& name);

  // A staged file to write on the writer's thread: `in_stage` below the staging directory
  // `stage_fd` (open until Publish, which waits for the write).
  struct StagedWrite {
    int stage_fd = -1;
    std::string in_stage, path, final_dir, content;
    int mode = 0;
    size_t index = 0;  // its position among the staged writes since the last Publish
  };
  static Result<FileStamp> WriteInStage(const StagedWrite& w);
  void Enqueue(StagedWrite w);
  void WriteLoop();
  // The caller waits when this many are queued (as many more may be being written).
  static constexpr size_t kMaxQueued = 256;
  static constexpr size_t kWakeEvery = 32;  // the thread is woken when this many are
  std::mutex q_mu_;
  std::condition_variable q_cv_;     // work queued, or stop
  std::condition_variable idle_cv_;  // room in the queue, or all done
  std::deque<StagedWrite> queue_;    // GUARDED_BY(q_mu_)
  bool writing_ = false;             // the thread holds a write; GUARDED_BY(q_mu_)
  bool stop_ = false;                // GUARDED_BY(q_mu_)
  // Staged writes done since the last Publish, by StagedWrite::index: the stamps (ino 0
  // for one not done or failed), and the failed ones with their path and error (few).
  // GUARDED_BY(q_mu_).
  void Done(StagedWrite&& w, Result<FileStamp> r);
  std::vector<FileStamp> done_stamps_;
  std::vector<std::pair<std::string, Status>> done_errors_;
  size_t staged_count_ = 0;  // staged writes since the last Publish (the caller's thread)
  std::thread thread_;       // started at the first staged write

  struct Stage {
    int parent_fd = -1;      // O_PATH of the directory the staging directory is in
    int fd = -1;             // the staging directory (O_RDONLY)
    std::string name;        // its name in parent_fd
    std::string final_name;  // the name it takes there
  };
  std::map<std::string, Stage> stages_;  // final absolute path -> staging directory
  int stages_fd_ = -1;                   // STATE_DIR/local.stages, opened on first use

  std::function<Status()> before_visible_;  // see SetBeforeVisible; may be empty
  const std::vector<std::string> allow_paths_;
  const std::string state_dir_;
  const bool durable_;
  bool beneath_works_ = true;               // false once the kernel said it has no openat2
  std::map<std::string, int> roots_;        // allowed directory -> O_PATH fd (-1: not open)
  std::unordered_set<std::string> absent_;  // paths observed absent by the last Observe
  std::vector<std::string> written_;        // files written (up to kMaxFsyncFiles + 1)
  size_t written_count_ = 0;                // files written, all of them
  bool created_dirs_ = false;               // the careful route ran (it may create directories)
  std::set<std::string> touched_dirs_;      // directories whose entries changed
};

}  // namespace plumb::target::local
