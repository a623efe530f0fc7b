#include "engine/plan_memo.h"

namespace plumb::engine {

void PlanMemo::Begin(const std::string& context,
                     std::shared_ptr<const std::vector<resource::Resource>> desired) {
  if (context != context_) {
    entries_.clear();
    entries_from_.reset();
    context_ = context;
  }
  desired_ = std::move(desired);
  const size_t n = desired_ ? desired_->size() : 0;
  keys_.clear();
  keys_.reserve(n);
  for (const resource::Resource& r : *desired_) keys_.push_back(r.id().Key());
  next_.assign(n, Entry{});
}

const std::string* PlanMemo::Find(size_t i) {
  auto it = entries_.find(keys_[i]);
  if (it == entries_.end()) return nullptr;
  const resource::Resource& now = (*desired_)[i];
  const Entry& was = it->second;
  // The same rendered set as last pass: the same object, nothing to compare.
  if (was.desired != &now &&
      (was.desired->api_version() != now.api_version() || was.desired->body() != now.body()))
    return nullptr;
  next_[i] = Entry{&now, was.expected_hash};
  return &next_[i].expected_hash;
}

void PlanMemo::Put(size_t i, std::string expected_hash) {
  next_[i] = Entry{&(*desired_)[i], std::move(expected_hash)};
}

std::shared_ptr<const std::vector<resource::Resource>> PlanMemo::End() {
  entries_.clear();
  entries_.reserve(next_.size());
  for (size_t i = 0; i < next_.size(); ++i)
    if (next_[i].desired) entries_.emplace(std::move(keys_[i]), std::move(next_[i]));
  std::shared_ptr<const std::vector<resource::Resource>> retired = std::move(entries_from_);
  entries_from_ = desired_;
  keys_.clear();
  next_.clear();
  return retired;
}

}  // namespace plumb::engine
