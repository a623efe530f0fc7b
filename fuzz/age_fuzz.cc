// Fuzz target: AgeDecrypt (armor, header, stanzas, STREAM) on arbitrary bytes with a fixed
// identity; identity parsing on the same bytes; then encrypting the input to that identity
// (binary or armored) and decrypting it must give it back.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "secrets/age.h"

namespace {

// A test identity used only by this fuzz target, so that the seed inputs (fuzz/corpus/age/,
// made with the real `age -r age109gnmw04zukdtljdamjwvcea80t20qdnncdcnmn53xaz0yscredqdghdhj`)
// reach the payload for the fuzzer to mutate.
constexpr char kFuzzIdentity[] =
    "AGE-SECRET-KEY-15NC2DU3YA0K3E3T9TRVQ30UV5YCQ3SXXR9Q02M2GYM6UEKSS0UNSPHFMGY";

const std::vector<plumb::secrets::AgeIdentity>& Identities() {
  static const auto* ids = new std::vector<plumb::secrets::AgeIdentity>{
      plumb::secrets::AgeIdentity::Parse(kFuzzIdentity).value()};
  return *ids;
}

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz property failed: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto& ids = Identities();
  // No passphrase: an scrypt stanza may ask for 2^22 work, too slow for a fuzzer.
  auto plain = plumb::secrets::AgeDecrypt(input, ids);
  if (!plain.ok() && plain.status().message().find("age: ") != 0) {
    Fail("an AgeDecrypt error without its category prefix");
  }
  auto id = plumb::secrets::AgeIdentity::Parse(input);
  if (id.ok() &&
      plumb::secrets::AgeIdentity::Parse(id->ToString())->Recipient() != id->Recipient()) {
    Fail("an identity does not round-trip through its text");
  }
  (void)plumb::secrets::ParseAgeIdentities(input);

  bool armor = size > 0 && (data[0] & 1) != 0;
  auto enc = plumb::secrets::AgeEncrypt(input, {ids[0].Recipient()}, armor);
  if (!enc.ok()) Fail("encrypting failed");
  auto back = plumb::secrets::AgeDecrypt(*enc, ids);
  if (!back.ok() || *back != input) Fail("encrypt then decrypt did not give the input back");
  return 0;
}
