// source (internal): the first fetch of a repository on this host. libgit2's local
// transport builds a delta-compressed pack of every object and indexes it again (at
// 100,000 resources most of a cold sync's fetch); `git clone` of a local path instead
// hard-links the object files. SeedObjects does the same for a new mirror, so the fetch
// that follows finds every wanted object present and only writes the refs.
#pragma once

#include <string>

namespace plumb::source::internal {

// Hard-links (or, across file systems, copies) the loose objects and the packs of the
// repository at `local` (bare or not) into the objects directory of the bare repository
// at `mirror`. Best effort and never harmful: object files are immutable and named by
// their content, a pack is linked before its index, temp files are skipped, and whatever
// is missing afterwards (alternates, objects written meanwhile) the fetch transfers as
// before. Returns the number of files linked or copied.
int SeedObjects(const std::string& local, const std::string& mirror);

}  // namespace plumb::source::internal
