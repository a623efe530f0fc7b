// source (internal): reading the signature git stored in a commit or an annotated tag,
// split from the data it signs, as `git verify-commit` / `git verify-tag` do.
#pragma once

#include <git2.h>

#include <string>

#include "core/status.h"
#include "source/source.h"

namespace plumb::source::internal {

// The commit's `gpgsig` header (OpenPGP or SSH) and the commit without it.
Result<SignedObject> ExtractCommitSignature(git_repository* repo, git_commit* commit);

// The annotated tag at `ref_name` ("refs/tags/NAME"): its raw content split where the
// signature begins. NotFound when absent, FailedPrecondition for a lightweight tag.
Result<SignedObject> ExtractTagSignature(git_repository* repo, const std::string& ref_name,
                                         const std::string& url);

// Splits a tag object's content at the first line that opens a signature block.
// Returns false when there is none.
bool SplitTagSignature(const std::string& content, std::string* data, std::string* signature);

}  // namespace plumb::source::internal
