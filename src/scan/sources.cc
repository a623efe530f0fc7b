// What a scan reads: a directory, the index, or a history (through source::LocalRepo).
#include <algorithm>
#include <filesystem>
#include <map>

#include "core/fs.h"
#include "scan/scan.h"

namespace plumb::scan {

namespace {

constexpr uintmax_t kMaxFileBytes = 64ull << 20;

// Scans `text` as `file` into `report`, applying the finding filters.
Status ScanInto(const Scanner& scanner, std::string_view text, const std::string& file,
                const Filter& filter, Report* report) {
  ++report->files;
  report->bytes += text.size();
  ASSIGN_OR_RETURN(auto found, scanner.Scan(text, file));
  for (auto& f : found) {
    if (filter.FindingIgnored(f)) {
      ++report->ignored;
      continue;
    }
    report->findings.push_back(std::move(f));
  }
  return Status::Ok();
}

// The findings of `findings` on the added lines, for `commit`, filtered, into `report`.
void AddCommitFindings(const std::vector<Finding>& findings, const source::AddedLines& added,
                       const source::CommitInfo* commit, const Filter& filter, Report* report) {
  for (Finding f : OnLines(findings, added.lines)) {
    if (f.file != added.path) f = Refile(std::move(f), added.path);
    if (commit != nullptr) {
      f.commit = commit->id;
      f.author = commit->author_name + " <" + commit->author_email + ">";
      f.date = commit->time_unix;
    }
    if (filter.FindingIgnored(f)) {
      ++report->ignored;
      continue;
    }
    report->findings.push_back(std::move(f));
  }
}

}  // namespace

std::vector<Finding> OnLines(const std::vector<Finding>& findings, const std::vector<int>& lines) {
  std::vector<Finding> out;
  for (const auto& f : findings) {
    if (std::binary_search(lines.begin(), lines.end(), f.line)) out.push_back(f);
  }
  return out;
}

Result<Report> ScanDirectory(const Scanner& scanner, const std::string& root,
                             const Filter& filter) {
  namespace stdfs = std::filesystem;
  Report report;
  std::error_code ec;
  auto status = stdfs::symlink_status(root, ec);
  if (ec) return NotFound(root + ": " + ec.message());
  if (stdfs::is_regular_file(status)) {
    ASSIGN_OR_RETURN(std::string text, fs::ReadFile(root));
    RETURN_IF_ERROR(ScanInto(scanner, text, root, filter, &report));
    return report;
  }
  if (!stdfs::is_directory(status)) return InvalidArgument(root + ": not a file or directory");
  std::vector<std::string> files;
  stdfs::recursive_directory_iterator it(root, stdfs::directory_options::none, ec);
  if (ec) return NotFound(root + ": " + ec.message());
  for (; it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return Unavailable(root + ": " + ec.message());
    const auto& entry = *it;
    if (entry.is_symlink()) continue;
    if (entry.is_directory()) {
      if (entry.path().filename() == ".git") it.disable_recursion_pending();
      continue;
    }
    if (!entry.is_regular_file()) continue;
    std::string rel = stdfs::relative(entry.path(), root).generic_string();
    if (filter.PathAllowed(rel)) continue;
    if (entry.file_size(ec) > kMaxFileBytes) continue;
    files.push_back(rel);
  }
  std::sort(files.begin(), files.end());
  for (const auto& rel : files) {
    auto text = fs::ReadFile(fs::JoinPath(root, rel));
    if (!text.ok()) return text.status().WithContext(rel);
    RETURN_IF_ERROR(ScanInto(scanner, *text, rel, filter, &report));
  }
  return report;
}

Result<Report> ScanStaged(const Scanner& scanner, source::LocalRepo& repo, const Filter& filter) {
  Report report;
  ASSIGN_OR_RETURN(auto staged, repo.StagedAdditions());
  for (const auto& added : staged) {
    if (filter.PathAllowed(added.path)) continue;
    ASSIGN_OR_RETURN(std::string text, repo.ReadBlob(added.blob_id));
    ++report.files;
    report.bytes += text.size();
    ASSIGN_OR_RETURN(auto found, scanner.Scan(text, added.path));
    AddCommitFindings(found, added, nullptr, filter, &report);
  }
  return report;
}

Result<Report> ScanHistory(const Scanner& scanner, source::LocalRepo& repo,
                           const std::string& range, const Filter& filter) {
  Report report;
  ASSIGN_OR_RETURN(auto commits, repo.Commits(range));
  // Findings per blob: a blob is read and scanned once, whatever its path or commit.
  std::map<std::string, std::vector<Finding>> by_blob;
  for (const auto& info : commits) {
    ++report.commits;
    if (filter.CommitAllowed(info.id)) continue;
    ASSIGN_OR_RETURN(auto additions, repo.Additions(info.id));
    for (const auto& added : additions.files) {
      if (filter.PathAllowed(added.path)) continue;
      auto it = by_blob.find(added.blob_id);
      if (it == by_blob.end()) {
        ASSIGN_OR_RETURN(std::string text, repo.ReadBlob(added.blob_id));
        ++report.files;
        report.bytes += text.size();
        ASSIGN_OR_RETURN(auto found, scanner.Scan(text, added.path));
        it = by_blob.emplace(added.blob_id, std::move(found)).first;
      }
      AddCommitFindings(it->second, added, &additions.commit, filter, &report);
    }
  }
  return report;
}

}  // namespace plumb::scan
