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
  put_text_.clear();
  puts_.clear();
}

std::optional<std::string_view> PlanMemo::Find(size_t i) {
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
      if (from == IdIndex::kNone) return std::nullopt;
    }
    const resource::Resource& was = *entries_[from].desired;
    if (was.api_version() != now.api_version() || !SameBody(was.body(), now.body()))
      return std::nullopt;
  } else if (from >= entries_.size() || !entries_[from].desired) {
    return std::nullopt;
  }
  next_[i] = Next{.from = static_cast<uint32_t>(from)};
  const Span& h = entries_[from].hash;
  return std::string_view(hashes_).substr(h.at, h.size);
}

void PlanMemo::Put(size_t i, std::string_view expected_hash) {
  // Past 4 GiB of hashes (never, in practice) a resource is not remembered: its next pass
  // asks the target, as for any resource not remembered.
  if (put_text_.size() + expected_hash.size() > UINT32_MAX || puts_.size() >= kNoEntry) {
    next_[i] = Next{};
    return;
  }
  next_[i] = Next{.put = static_cast<uint32_t>(puts_.size())};
  puts_.push_back(Span{.at = static_cast<uint32_t>(put_text_.size()),
                       .size = static_cast<uint32_t>(expected_hash.size())});
  put_text_.append(expected_hash);
}

std::shared_ptr<const std::vector<resource::Resource>> PlanMemo::End() {
  auto hash_of = [&](const Next& n) -> std::string_view {
    if (n.put != kNoEntry)
      return std::string_view(put_text_).substr(puts_[n.put].at, puts_[n.put].size);
    if (n.from != kNoEntry)
      return std::string_view(hashes_).substr(entries_[n.from].hash.at, entries_[n.from].hash.size);
    return {};
  };
  // The text is sized exactly before it is filled: grown by appends it held up to twice
  // what it needs, and shrinking it afterwards copied it (both alive at once).
  size_t total = 0;
  bool any = false;
  for (const Next& n : next_) {
    if (n.put == kNoEntry && n.from == kNoEntry) continue;
    any = true;
    size_t size = hash_of(n).size();
    if (total + size <= UINT32_MAX) total += size;
  }
  std::string text;
  text.reserve(total);
  // Nothing remembered (a cold sync: no resource was owned yet): no entry per desired
  // index either. Find() reads a missing entry as none.
  std::vector<Entry> ended(any ? next_.size() : 0);
  size_ = 0;
  for (size_t i = 0; any && i < next_.size(); ++i) {
    const Next& n = next_[i];
    if (n.put == kNoEntry && n.from == kNoEntry) continue;
    std::string_view hash = hash_of(n);
    if (text.size() + hash.size() > UINT32_MAX) continue;  // not remembered (see Put)
    ended[i] = Entry{&(*desired_)[i], Span{.at = static_cast<uint32_t>(text.size()),
                                           .size = static_cast<uint32_t>(hash.size())}};
    text.append(hash);
    ++size_;
  }
  if (size_ == 0) std::vector<Entry>().swap(ended);
  entries_ = std::move(ended);
  hashes_ = std::move(text);
  by_id_built_ = false;
  std::shared_ptr<const std::vector<resource::Resource>> retired = std::move(entries_from_);
  entries_from_ = desired_;
  // Freed, not cleared: what a pass puts is not kept twice between passes.
  std::vector<Next>().swap(next_);
  std::string().swap(put_text_);
  std::vector<Span>().swap(puts_);
  return retired;
}

}  // namespace plumb::engine
