// SOPS: the recorded sops 3.9.0 file (testdata/sops/, real output) decrypts and refuses every
// alteration; documents made by a small sops-like encryptor in this file exercise value
// types and the encryption rules (encrypted_suffix, unencrypted_regex, mac_only_encrypted).
#include "secrets/sops.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <functional>

#include "core/fs.h"
#include "core/strings.h"
#include "resource/codec.h"

namespace plumb::secrets {
namespace {

using resource::Value;

std::string Testdata(const std::string& name) {
  const char* src = std::getenv("PLUMB_SOURCE_DIR");
  return fs::ReadFile(std::string(src != nullptr ? src : ".") + "/src/secrets/testdata/sops/" +
                      name)
      .value();
}

Value ParseOne(const std::string& yaml) {
  auto docs = resource::ParseYaml(yaml, "test.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  return docs.ok() && !docs->empty() ? (*docs)[0].value : Value();
}

class SopsFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    doc_ = ParseOne(Testdata("secret.age.yaml"));
    ids_ = ParseAgeIdentities(Testdata("age.agekey")).value();
  }
  Status DecryptStatus(const Value& doc) { return SopsDecrypt(doc, ids_).status(); }
  void ExpectMacMismatch(const Value& doc) {
    Status s = DecryptStatus(doc);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("SOPS MAC mismatch: the file was altered after encryption"),
              std::string::npos)
        << s.ToString();
  }
  Value doc_;
  std::vector<AgeIdentity> ids_;
};

TEST_F(SopsFixtureTest, DecryptsTheRealSopsFile) {
  EXPECT_TRUE(IsSopsEncrypted(doc_));
  auto got = SopsDecrypt(doc_, ids_);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->FindPath({"stringData", "key"})->as_string(), "value");
  EXPECT_EQ(got->Find("sops"), nullptr);
  EXPECT_EQ(got->GetString("kind"), "Secret");
  EXPECT_EQ(got->FindPath({"metadata", "name"})->as_string(), "age");
}

TEST_F(SopsFixtureTest, RecognisesOnlySopsDocuments) {
  EXPECT_FALSE(IsSopsEncrypted(ParseOne("kind: Secret\nstringData: {a: b}\n")));
  EXPECT_FALSE(IsSopsEncrypted(ParseOne("sops: {version: 3.9.0}\n")));
  EXPECT_FALSE(IsSopsEncrypted(Value("sops")));
  EXPECT_FALSE(SopsDecrypt(ParseOne("kind: Secret\n"), ids_).ok());
}

TEST_F(SopsFixtureTest, AnotherIdentityDoesNotDecrypt) {
  auto got = SopsDecrypt(doc_, {AgeIdentity::Generate().value()});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kNotFound) << got.status().ToString();
  EXPECT_NE(
      got.status().message().find("age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29"),
      std::string::npos);
}

TEST_F(SopsFixtureTest, ChangingAnUnencryptedValueBreaksTheMac) {
  Value d = doc_;
  d.Set("apiVersion", "v2");
  ExpectMacMismatch(d);
  d = doc_;
  d.Find("metadata")->Set("name", "other");
  ExpectMacMismatch(d);
  d = doc_;
  d.Find("metadata")->Set("namespace", "added");
  ExpectMacMismatch(d);
  d = doc_;
  d.Erase("kind");
  ExpectMacMismatch(d);
}

TEST_F(SopsFixtureTest, ChangingTheEncryptedValueIsRefusedNamingItsPath) {
  Value d = doc_;
  std::string enc = d.FindPath({"stringData", "key"})->as_string();
  std::string altered = enc;
  altered[std::string("ENC[AES256_GCM,data:").size()] ^= 1;
  d.Find("stringData")->Set("key", altered);
  Status s = DecryptStatus(d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("stringData.key"), std::string::npos) << s.ToString();

  // Moved to another key: the key path is the AAD, so it does not decrypt there.
  d = doc_;
  d.Find("stringData")->Erase("key");
  d.Find("stringData")->Set("password", enc);
  s = DecryptStatus(d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("stringData.password"), std::string::npos) << s.ToString();

  // A plaintext put in place of an encrypted value is refused, not passed through.
  d = doc_;
  d.Find("stringData")->Set("key", "injected");
  s = DecryptStatus(d);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().find("injected"), std::string::npos) << s.ToString();
  // ...and so is an emptied one (sops leaves "" unencrypted, but it changes the MAC).
  d = doc_;
  d.Find("stringData")->Set("key", "");
  ExpectMacMismatch(d);
}

TEST_F(SopsFixtureTest, ChangingTheMacOrItsTimeIsRefused) {
  Value d = doc_;
  std::string mac = d.FindPath({"sops", "mac"})->as_string();
  mac[std::string("ENC[AES256_GCM,data:").size() + 3] ^= 1;
  d.Find("sops")->Set("mac", mac);
  ExpectMacMismatch(d);
  d = doc_;
  d.Find("sops")->Set("lastmodified", "2024-11-12T13:33:43Z");
  ExpectMacMismatch(d);
  d = doc_;
  d.Find("sops")->Set("encrypted_regex", "^(data)$");  // stringData.key would pass as plain
  ExpectMacMismatch(d);
}

TEST_F(SopsFixtureTest, RefusesWhatItDoesNotSupport) {
  Value d = doc_;
  d.Find("sops")->Set("encrypted_comment_regex", "sops:enc");
  EXPECT_EQ(DecryptStatus(d).code(), Code::kUnimplemented);
  d = doc_;
  d.Find("sops")->Set("unencrypted_suffix", "_plain");  // two rules at once
  EXPECT_EQ(DecryptStatus(d).code(), Code::kInvalidArgument);
  d = doc_;
  d.Find("sops")->Set("age", Value::EmptyArray());
  EXPECT_EQ(DecryptStatus(d).code(), Code::kFailedPrecondition);
}

TEST_F(SopsFixtureTest, ReadsTheDataKeyFromASingleKeyGroup) {
  Value d = doc_;
  Value group = Value::EmptyObject();
  group.Set("age", *d.FindPath({"sops", "age"}));
  d.Find("sops")->Erase("age");
  d.Find("sops")->Set("key_groups", Value(resource::Array{group}));
  auto got = SopsDecrypt(d, ids_);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->FindPath({"stringData", "key"})->as_string(), "value");
  d.Find("sops")->Set("key_groups", Value(resource::Array{group, group}));
  EXPECT_EQ(DecryptStatus(d).code(), Code::kUnimplemented);
}

// ---- Documents from a sops-like encryptor (the algorithm of sops' Tree.Encrypt) ----

std::string GcmSeal(const std::string& key, const std::string& plain, const std::string& aad,
                    const std::string& type) {
  std::string iv(32, '\0');
  EXPECT_EQ(RAND_bytes(reinterpret_cast<unsigned char*>(iv.data()), 32), 1);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  auto u = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); };
  std::string out(plain.size() + 16, '\0');
  std::string tag(16, '\0');
  int n = 0;
  EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr);
  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 32, nullptr);
  EVP_EncryptInit_ex(ctx, nullptr, nullptr, u(key), u(iv));
  EVP_EncryptUpdate(ctx, nullptr, &n, u(aad), static_cast<int>(aad.size()));
  EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &n, u(plain),
                    static_cast<int>(plain.size()));
  int total = n;
  EVP_EncryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + total, &n);
  total += n;
  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag.data());
  EVP_CIPHER_CTX_free(ctx);
  out.resize(total);
  return "ENC[AES256_GCM,data:" + Base64Encode(out) + ",iv:" + Base64Encode(iv) +
         ",tag:" + Base64Encode(tag) + ",type:" + type + "]";
}

struct Encryptor {
  std::string key = std::string(32, '\x42');
  std::function<bool(const std::vector<std::string>&)> encrypted;
  bool mac_only_encrypted = false;
  std::string mac_input;

  void Walk(Value& v, std::vector<std::string>& path) {
    if (v.is_object()) {
      for (auto& [k, c] : v.as_object()) {
        path.push_back(k);
        Walk(c, path);
        path.pop_back();
      }
    } else if (v.is_array()) {
      for (auto& c : v.as_array()) Walk(c, path);
    } else if (!v.is_null()) {
      std::string plain, type;
      if (v.is_string()) plain = v.as_string(), type = "str";
      if (v.is_int()) plain = std::to_string(v.as_int()), type = "int";
      if (v.is_double()) plain = "2.5", type = "float";  // the tests use 2.5 only
      if (v.is_bool()) plain = v.as_bool() ? "True" : "False", type = "bool";
      bool enc = encrypted(path);
      if (!mac_only_encrypted || enc) mac_input += plain;
      if (enc && !plain.empty()) v = GcmSeal(key, plain, Join(path, ":") + ":", type);
    }
  }

  Value Encrypt(Value doc, const AgeIdentity& id, Value meta) {
    std::vector<std::string> path;
    if (mac_only_encrypted) {
      static const unsigned char kInit[32] = {0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52,
                                              0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
                                              0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6,
                                              0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69};
      mac_input = std::string(reinterpret_cast<const char*>(kInit), 32);
    }
    Walk(doc, path);
    unsigned char digest[64];
    unsigned int len = 0;
    EVP_Digest(mac_input.data(), mac_input.size(), digest, &len, EVP_sha512(), nullptr);
    std::string mac = HexEncode(std::string(reinterpret_cast<char*>(digest), len));
    for (char& c : mac) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    Value entry = Value::EmptyObject();
    entry.Set("recipient", id.Recipient());
    entry.Set("enc", AgeEncrypt(key, {id.Recipient()}, /*armor=*/true).value());
    meta.Set("age", Value(resource::Array{entry}));
    meta.Set("lastmodified", "2025-01-02T03:04:05Z");
    meta.Set("mac", GcmSeal(key, mac, "2025-01-02T03:04:05Z", "str"));
    meta.Set("version", "3.9.0");
    doc.Set("sops", meta);
    return doc;
  }
};

Value TypedDoc() {
  return ParseOne(
      "name: app\n"
      "password: hunter2\n"
      "port: 5432\n"
      "ratio: 2.5\n"
      "enabled: true\n"
      "empty: \"\"\n"
      "nothing: null\n"
      "list: [a, 7, false]\n"
      "nested: {token_unencrypted: plain, secret: s3cret}\n");
}

TEST(SopsEncryptorTest, DefaultRulesEncryptAllButUnencryptedSuffixAndRestoreTypes) {
  auto id = AgeIdentity::Generate().value();
  Encryptor e;
  e.encrypted = [](const std::vector<std::string>& path) {
    for (const auto& p : path) {
      if (EndsWith(p, "_unencrypted")) return false;
    }
    return true;
  };
  Value original = TypedDoc();
  Value enc = e.Encrypt(original, id, Value::EmptyObject());
  EXPECT_TRUE(StartsWith(enc.Find("port")->as_string(), "ENC[AES256_GCM,"));
  EXPECT_TRUE(enc.FindPath({"nested", "token_unencrypted"})->as_string() == "plain");
  auto got = SopsDecrypt(enc, {AgeIdentity::Generate().value(), id});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, original);
  EXPECT_TRUE(got->Find("port")->is_int());
  EXPECT_TRUE(got->Find("ratio")->is_double());
  EXPECT_TRUE(got->Find("enabled")->is_bool());
  EXPECT_TRUE(got->Find("list")->as_array()[2].is_bool());

  // lastmodified is the MAC's AAD as Go formats it back (RFC 3339, whole seconds, "Z").
  Value d = enc;
  d.Find("sops")->Set("lastmodified", "2025-01-02T03:04:05.250+00:00");
  EXPECT_TRUE(SopsDecrypt(d, {id}).ok());

  // A plaintext smuggled under the unencrypted suffix still changes the MAC.
  d = enc;
  d.Find("nested")->Set("token_unencrypted", "changed");
  auto s = SopsDecrypt(d, {id}).status();
  EXPECT_NE(s.message().find("SOPS MAC mismatch"), std::string::npos) << s.ToString();
  // Encrypted values swapped between two keys do not decrypt (the path is the AAD).
  d = enc;
  Value pw = *d.Find("password");
  d.Set("password", *d.FindPath({"nested", "secret"}));
  d.Find("nested")->Set("secret", pw);
  s = SopsDecrypt(d, {id}).status();
  EXPECT_NE(s.message().find("password"), std::string::npos) << s.ToString();
  EXPECT_EQ(s.message().find("hunter2"), std::string::npos);
  EXPECT_EQ(s.message().find("s3cret"), std::string::npos);
}

TEST(SopsEncryptorTest, EncryptedSuffixAndMacOnlyEncrypted) {
  auto id = AgeIdentity::Generate().value();
  Encryptor e;
  e.mac_only_encrypted = true;
  e.encrypted = [](const std::vector<std::string>& path) {
    for (const auto& p : path) {
      if (EndsWith(p, "_enc")) return true;
    }
    return false;
  };
  Value original = ParseOne("a_enc: one\nb: two\nc: {d_enc: {e: 3}, f: 4}\n");
  Value meta = Value::EmptyObject();
  meta.Set("encrypted_suffix", "_enc");
  meta.Set("mac_only_encrypted", true);
  Value enc = e.Encrypt(original, id, meta);
  EXPECT_EQ(enc.GetString("b"), "two");
  EXPECT_TRUE(StartsWith(enc.FindPath({"c", "d_enc", "e"})->as_string(), "ENC["));
  auto got = SopsDecrypt(enc, {id});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, original);
  // With mac_only_encrypted, plain values are outside the MAC (as in sops) ...
  Value d = enc;
  d.Set("b", "changed");
  EXPECT_TRUE(SopsDecrypt(d, {id}).ok());
  // ... but turning the option off changes the MAC.
  d = enc;
  d.Find("sops")->Set("mac_only_encrypted", false);
  EXPECT_FALSE(SopsDecrypt(d, {id}).ok());
}

TEST(SopsEncryptorTest, UnencryptedRegex) {
  auto id = AgeIdentity::Generate().value();
  Encryptor e;
  e.encrypted = [](const std::vector<std::string>& path) {
    for (const auto& p : path) {
      if (p.rfind("meta", 0) == 0) return false;
    }
    return true;
  };
  Value original = ParseOne("metadata: {name: x}\nspec: {password: y}\n");
  Value meta = Value::EmptyObject();
  meta.Set("unencrypted_regex", "^meta");
  Value enc = e.Encrypt(original, id, meta);
  EXPECT_EQ(enc.FindPath({"metadata", "name"})->as_string(), "x");
  auto got = SopsDecrypt(enc, {id});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, original);
}

}  // namespace
}  // namespace plumb::secrets
