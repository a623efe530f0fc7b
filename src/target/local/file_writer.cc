#include "target/local/file_writer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <utility>

#include "core/fs.h"
#include "target/local/spec.h"

namespace plumb::target::local {

FileWriter::FileWriter(std::vector<std::string> allow_paths, std::string state_dir, bool durable)
    : allow_paths_(std::move(allow_paths)), state_dir_(std::move(state_dir)), durable_(durable) {}

FileWriter::~FileWriter() {
  for (auto& [dir, fd] : roots_)
    if (fd >= 0) ::close(fd);
}

Result<FileStamp> FileWriter::Write(const std::string& path, const std::string& content, int mode) {
  Result<FileStamp> written = Unimplemented("");
  if (beneath_works_) {
    written = WriteBeneath(path, content, mode);
    if (!written.ok() && written.status().code() == Code::kUnimplemented) beneath_works_ = false;
  }
  // Whatever the fast route could not do, the careful one does or refuses with the
  // reason (a symlink leading out, a directory at the path, ...).
  if (!written.ok()) written = WriteCareful(path, content, mode);
  if (!written.ok()) return written;
  ++written_count_;
  if (written_.size() <= kMaxFsyncFiles) written_.push_back(path);
  touched_dirs_.insert(fs::Dirname(path));
  return written;
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

Status FileWriter::Sync() {
  for (auto& [dir, fd] : roots_)
    if (fd >= 0) ::close(fd);
  roots_.clear();
  absent_.clear();
  Status s;
  if (durable_) {
    s = (written_count_ <= kMaxFsyncFiles && !created_dirs_) ? SyncEach() : SyncFilesystems();
  }
  written_.clear();
  written_count_ = 0;
  created_dirs_ = false;
  touched_dirs_.clear();
  return s;
}

// A few files: fsync each, then the directories whose entries changed (the renames), and
// local.db's files when it was written. Cheaper than syncfs, which flushes everything
// dirty on the file system (27 ms for a one-file commit on the benchmark machine).
Status FileWriter::SyncEach() {
  Status first_error;
  auto keep = [&](Status s) {
    if (!s.ok() && s.code() != Code::kNotFound && first_error.ok()) first_error = std::move(s);
  };
  for (const std::string& file : written_) keep(fs::SyncPath(file));
  if (touched_dirs_.count(state_dir_)) {
    for (const char* name : {"local.db", "local.db-wal"})
      keep(fs::SyncPath(fs::JoinPath(state_dir_, name)));
  }
  for (const std::string& dir : touched_dirs_) keep(fs::SyncPath(dir));
  return first_error;
}

Status FileWriter::SyncFilesystems() {
  std::set<dev_t> synced;
  Status first_error;
  for (std::string dir : touched_dirs_) {
    struct stat st;
    while (::stat(dir.c_str(), &st) != 0 && dir != "/") dir = fs::Dirname(dir);
    if (!synced.insert(st.st_dev).second) continue;
    Status s = fs::SyncFilesystem(dir);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

}  // namespace plumb::target::local
