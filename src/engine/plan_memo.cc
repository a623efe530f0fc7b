#include "engine/plan_memo.h"

#include "engine/pass_delta.h"

namespace plumb::engine {

void PlanMemo::Begin(const std::string& context,
                     std::shared_ptr<const std::vector<resource::Resource>> desired) {
  if (context != context_) {
    entries_.clear();
    hashes_.clear();
    entries_from_.reset();
    by_id_built_ = false;
    size_ = 0;
    context_ = context;
  }
  desired_ = std::move(desired);
  next_.assign(desired_ ? desired_->size() : 0, Next{});
  puts_.clear();
}

const target::HexDigest* PlanMemo::Find(size_t i) {
  const resource::Resource& now = (*desired_)[i];
  size_t from = i;
  if (desired_ != entries_from_) {
    // A new set mostly holds the last one's resources at the same positions (a commit
    // that changes some files): found there without building the index.
    if (i < entries_.size() && entries_[i].desired && entries_[i].desired->id() == now.id()) {
      from = i;
    } else {
      if (!by_id_built_) {
        by_id_.Reset(entries_.size());
        for (size_t j = 0; j < entries_.size(); ++j)
          if (entries_[j].desired) by_id_.Add(entries_[j].desired->id(), j);
        by_id_built_ = true;
      }
      from = by_id_.Find(now.id());
      if (from == IdIndex::kNone) return nullptr;
    }
    const resource::Resource& was = *entries_[from].desired;
    if (was.api_version() != now.api_version() || !SameBody(was.body(), now.body())) return nullptr;
  } else if (from >= entries_.size() || !entries_[from].desired) {
    return nullptr;
  }
  next_[i] = Next{.from = static_cast<uint32_t>(from)};
  return &hashes_[entries_[from].hash];
}

void PlanMemo::Put(size_t i, const target::HexDigest& expected_hash) {
  // Past 4 billion puts (never, in practice) a resource is not remembered: its next pass
  // asks the target, as for any resource not remembered.
  if (puts_.size() >= kNoEntry) {
    next_[i] = Next{};
    return;
  }
  // Room for every resource at the first Put (a restart puts them all): grown by appends,
  // the vector held up to twice what it needed, and the old one and the new at once. Pages
  // never written take no memory.
  if (puts_.capacity() == 0) puts_.reserve(next_.size());
  next_[i] = Next{.put = static_cast<uint32_t>(puts_.size())};
  puts_.push_back(expected_hash);
}

std::shared_ptr<const std::vector<resource::Resource>> PlanMemo::End() {
  // Sized exactly before they are filled (grown by appends they held up to twice what they
  // need).
  size_t count = 0;
  bool carried = false;  // some Find() hit carries a hash over
  for (const Next& n : next_) {
    count += n.put != kNoEntry || n.from != kNoEntry;
    carried = carried || n.from != kNoEntry;
  }
  // Without a hit (a restart, a first pass, a new context), the puts are the hashes: kept
  // as they are rather than copied (at 100,000 resources the copy was 3.2 MB beside them,
  // at the pass's peak).
  const bool puts_only = !carried && !puts_.empty() && puts_.size() == count;
  std::vector<target::HexDigest> hashes;
  if (puts_only) {
    hashes = std::move(puts_);
    if (hashes.capacity() > hashes.size() + hashes.size() / 8) hashes.shrink_to_fit();
  } else {
    hashes.reserve(count);
  }
  // Nothing remembered (a cold sync: no resource was owned yet): no entry per desired
  // index either. Find() reads a missing entry as none.
  std::vector<Entry> ended(count ? next_.size() : 0);
  for (size_t i = 0; count && i < next_.size(); ++i) {
    const Next& n = next_[i];
    if (n.put == kNoEntry && n.from == kNoEntry) continue;
    if (puts_only) {
      ended[i] = Entry{&(*desired_)[i], n.put};
      continue;
    }
    ended[i] = Entry{&(*desired_)[i], static_cast<uint32_t>(hashes.size())};
    hashes.push_back(n.put != kNoEntry ? puts_[n.put] : hashes_[entries_[n.from].hash]);
  }
  size_ = count;
  entries_ = std::move(ended);
  hashes_ = std::move(hashes);
  by_id_built_ = false;
  std::shared_ptr<const std::vector<resource::Resource>> retired = std::move(entries_from_);
  entries_from_ = desired_;
  // Freed, not cleared: what a pass puts is not kept twice between passes.
  std::vector<Next>().swap(next_);
  std::vector<target::HexDigest>().swap(puts_);
  return retired;
}

}  // namespace plumb::engine
