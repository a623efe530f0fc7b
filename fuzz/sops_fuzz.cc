// Fuzz target: a YAML document read with the project's codec, then SopsDecrypt with the age
// identity of the recorded sops fixture (src/secrets/testdata/sops/), so that seed inputs
// (fuzz/corpus/sops/: the real file and altered copies) reach value decryption and the MAC.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "secrets/sops.h"

namespace {

// The public test identity of src/secrets/testdata/sops/age.agekey (from fluxcd's test data).
constexpr char kFixtureIdentity[] =
    "AGE-SECRET-KEY-1RH87A5Z54ZGUR9S0AS3R6WHFSEFNPLYMAKF5Z2CEU7R06VRJ0A3Q7242AM";

const std::vector<plumb::secrets::AgeIdentity>& Identities() {
  static const auto* ids = new std::vector<plumb::secrets::AgeIdentity>{
      plumb::secrets::AgeIdentity::Parse(kFixtureIdentity).value()};
  return *ids;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto docs = plumb::resource::ParseYaml(text, "fuzz.yaml", plumb::fuzz::FuzzLimits());
  if (!docs.ok()) return 0;
  for (const auto& doc : *docs) {
    bool encrypted = plumb::secrets::IsSopsEncrypted(doc.value);
    auto plain = plumb::secrets::SopsDecrypt(doc.value, Identities());
    if (plain.ok() && !encrypted) plumb::fuzz::Fail("decrypted a document without sops.mac", "");
    if (plain.ok() && plain->Find("sops") != nullptr) {
      plumb::fuzz::Fail("the decrypted document still has its sops key", "");
    }
  }
  return 0;
}
