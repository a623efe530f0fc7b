// Fuzz target: SealedSecret manifests from git (YAML) through UnsealSealedSecret,
// ResealSealedSecret and MergeIntoSealed. Whatever the input, no crash, and:
//   - an unsealed Secret is a whole Secret (kind Secret, the SealedSecret's name, data a map);
//   - resealing keeps every value: the resealed manifest unseals to the same Secret.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_check.h"
#include "fuzz_key.h"
#include "resource/codec.h"
#include "secrets/keys.h"
#include "secrets/sealed_secret.h"

namespace {

using plumb::fuzz::Fail;
using plumb::resource::Value;

void Check(const Value& sealed) {
  const auto& key = plumb::fuzz::FuzzSealingKey();
  const std::vector<plumb::secrets::PrivateKey> keys = {key};
  auto secret = plumb::secrets::UnsealSealedSecret(sealed, keys, "v1");
  if (secret.ok()) {
    if (secret->GetString("kind") != "Secret") Fail("unsealed to something but a Secret", "");
    const Value* data = secret->Find("data");
    if (data == nullptr || !data->is_object()) Fail("unsealed Secret without a data map", "");
    if (secret->FindPath({"metadata", "name"}) == nullptr) Fail("unsealed Secret without name", "");
  }
  auto resealed = plumb::secrets::ResealSealedSecret(sealed, keys, key.public_key());
  if (resealed.ok() != secret.ok()) Fail("reseal and unseal disagree on the input", "");
  if (resealed.ok()) {
    auto again = plumb::secrets::UnsealSealedSecret(*resealed, keys, "v1");
    if (!again.ok()) Fail("a resealed SealedSecret does not unseal", "");
    if (*again->Find("data") != *secret->Find("data")) Fail("resealing changed a value", "");
  }
  Value extra = Value::EmptyObject();
  extra.Set("apiVersion", "v1");
  extra.Set("kind", "Secret");
  extra.Set("stringData", Value::EmptyObject()).Set("added", "value");
  (void)plumb::secrets::MergeIntoSealed(sealed, extra, key.public_key());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto docs = plumb::resource::ParseYaml(input, "fuzz.yaml", plumb::fuzz::FuzzLimits());
  if (!docs.ok()) return 0;
  for (const auto& doc : *docs) Check(doc.value);
  return 0;
}
