// engine (internal): what the plan stage of one Application remembers between passes, so
// a resource git did not change costs neither a Target::Expected() call nor a read of the
// live object: per resource, the desired resource of the last pass and the canonical hash
// of what the target expected for it. A resource whose body is unchanged, whose expected
// hash equals the hash the inventory recorded when it was applied, and that the target
// reports unchanged since (Target::UnchangedSinceApplied) is planned as a no-op.
//
// A pass over the very desired set of the last pass (the same commit, rendered once)
// finds by position: no hashing, no comparing, no copying. A pass over a new set finds at
// the same position when the identity is there (else by identity) and compares bodies,
// in O(1) when the body is the very node of the last pass's (the render cache's document
// of a file git did not change).
//
// Not thread-safe: owned by one Application and used under its reconcile lock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/id_index.h"
#include "resource/resource.h"
#include "target/target.h"

namespace plumb::engine {

class PlanMemo {
 public:
  // Starts a pass over `desired` (kept alive by the memo while it is remembered). `context`
  // names what else Expected() depends on (Application, local root, cluster): when it
  // differs from the last pass's, everything is forgotten.
  void Begin(const std::string& context,
             std::shared_ptr<const std::vector<resource::Resource>> desired);

  // The expected hash remembered for desired[i], when the last pass saw a resource with
  // this identity and an equal body; nullptr otherwise. Valid until End().
  // A hit is carried into the next pass.
  const target::HexDigest* Find(size_t i);

  // Remembers the expected hash of desired[i] for the next pass.
  void Put(size_t i, const target::HexDigest& expected_hash);

  // Ends the pass: what is remembered from now on is this pass's Put()s and Find() hits.
  // A pass that does not end (the reconcile failed first) changes nothing. Returns the
  // desired set the memo no longer needs (the last pass's), so the caller can free it
  // once the pass is recorded rather than during the plan.
  std::shared_ptr<const std::vector<resource::Resource>> End();

  size_t size() const { return size_; }

 private:
  // The hashes are kept as their bytes (a HexDigest, 33 bytes) in one vector, an index each,
  // rather than as a string per resource (64 hex digits on the heap were 80 bytes and an
  // allocation each; end to end in one text, 64 bytes), and compare with the inventory's
  // (HexDigest too) without parsing hex on every pass.
  struct Entry {
    const resource::Resource* desired = nullptr;  // into entries_from_; nullptr: none
    uint32_t hash = 0;                            // in hashes_
  };
  static constexpr uint32_t kNoEntry = UINT32_MAX;
  struct Next {
    uint32_t from = kNoEntry;  // a Find() hit: entries_[from] carries over
    uint32_t put = kNoEntry;   // a Put(): index into puts_
  };
  std::string context_;
  std::shared_ptr<const std::vector<resource::Resource>> desired_;       // this pass
  std::shared_ptr<const std::vector<resource::Resource>> entries_from_;  // the last ended
  std::vector<Entry> entries_;  // the last ended pass, by its desired index
  IdIndex by_id_;               // entries_ by identity, built by the first Find() that needs it
  bool by_id_built_ = false;
  std::vector<target::HexDigest> hashes_;  // the hashes of entries_
  std::vector<Next> next_;                 // this pass, by desired index
  std::vector<target::HexDigest> puts_;    // this pass's Put()s
  size_t size_ = 0;
};

}  // namespace plumb::engine
