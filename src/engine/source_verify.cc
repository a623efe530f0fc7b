// spec.source.verify: the signature check between resolving the head and rendering it.
#include "core/log.h"
#include "engine/engine_impl.h"

namespace plumb::engine {

Status Engine::Impl::VerifySource(AppState& st, const AppSpec& spec, const std::string& commit) {
  Result<source::SignedObject> obj = spec.verify.mode == "tag"
                                         ? repos->TagSignature(spec.repo, spec.branch)
                                         : repos->CommitSignature(spec.repo, commit);
  if (!obj.ok()) return obj.status();
  if (obj->commit != commit) {  // the tag moved between resolving and reading it
    return Aborted(obj->name + " moved while it was verified; retrying");
  }
  std::string key = obj->id + "|" + spec.verify.Fingerprint();
  if (key == st.verify_cache_key) return st.verify_cache_result;
  auto verified = source::VerifySignature(*obj, spec.verify.keys);
  Status result = verified.ok() ? Status::Ok() : verified.status();
  if (verified.ok()) {
    log::Info("verified the signature of " + obj->name,
              {{"app", spec.name}, {"signer", verified->signer}});
  }
  // A missing tool or a timeout says nothing about the commit: try again next pass.
  if (result.ok() || (!result.transient() && result.code() != Code::kNotFound)) {
    st.verify_cache_key = key;
    st.verify_cache_result = result;
  }
  return result;
}

}  // namespace plumb::engine
