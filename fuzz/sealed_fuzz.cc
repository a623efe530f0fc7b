// Fuzz target: UnsealValue's parser on arbitrary text (as the base64 a SealedSecret holds)
// and on arbitrary bytes after base64 (to reach the length, RSA and GCM parts); then sealing
// the input and unsealing it must give it back.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/strings.h"
#include "fuzz_key.h"
#include "secrets/keys.h"
#include "secrets/sealed.h"

namespace {

constexpr char kLabel[] = "prod/db";

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz property failed: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto& key = plumb::fuzz::FuzzSealingKey();
  // Almost every input is refused; what matters is that it is refused cleanly.
  (void)plumb::secrets::UnsealValue(key, kLabel, input);
  (void)plumb::secrets::UnsealValue(key, kLabel, plumb::Base64Encode(input));

  auto sealed = plumb::secrets::SealValue(key.public_key(), kLabel, input);
  if (!sealed.ok()) Fail("sealing failed");
  auto back = plumb::secrets::UnsealValue(key, kLabel, *sealed);
  if (!back.ok() || *back != input) Fail("seal then unseal did not give the input back");
  if (plumb::secrets::UnsealValue(key, "prod/other", *sealed).ok()) {
    Fail("a strict value unsealed under another label");
  }
  return 0;
}
