// Secrets on the local target: File.spec.fromSecret (content, mode, masking, errors,
// updates) and the encryption of Secret rows in local.db, down to the raw bytes of every
// file under the state directory.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/fs.h"
#include "core/strings.h"
#include "diff/diff.h"
#include "resource/codec.h"
#include "target/local/local_target_test_util.h"
#include "target/local/row_cipher.h"
#include "target/local/store.h"

namespace plumb::target {
namespace {

const std::string kKey(32, 'k');
const std::string kOtherKey(32, 'o');

Resource SecretRes(const std::string& name, Value string_data) {
  return Make("Secret", name, Obj({{"stringData", std::move(string_data)}}));
}

Resource SecretFile(const std::string& path, const std::string& secret, const std::string& key,
                    Value mode = Value()) {
  Value spec = Obj({{"path", path}, {"fromSecret", Obj({{"name", secret}, {"key", key}})}});
  if (!mode.is_null()) spec.Set("mode", mode);
  return Make("File", "cred", Obj({{"spec", spec}}));
}

bool Contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

// Every file under `dir` (recursively) whose raw bytes contain one of `needles`, except
// paths `skip` accepts.
std::vector<std::string> FilesContaining(const std::string& dir,
                                         const std::vector<std::string>& needles,
                                         const std::function<bool(const std::string&)>& skip) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string path = e.path().string();
    if (skip(path)) continue;
    auto bytes = fs::ReadFile(path);
    if (!bytes.ok()) continue;
    for (const std::string& n : needles)
      if (Contains(*bytes, n)) out.push_back(path + " holds " + n);
  }
  return out;
}

class SecretTargetTest : public LocalTargetTest {
 protected:
  void OpenWithKey(const std::string& key) {
    target_.reset();
    auto t = local::NewLocalTarget({.state_dir = root_ + "/state",
                                    .allow_paths = {allowed_},
                                    .durable = true,
                                    .shim_exe = PLUMB_SHIM_TEST_HELPER,
                                    .supervise_interval = Duration(50),
                                    .secret_key = key});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    target_ = std::move(t).value();
  }

  // The rows of local.db as another connection reads them: after a Flush(), which commits
  // the target's batch of rows (as every reconcile does after its applies).
  std::vector<local::ObjectRow> Rows() {
    if (target_) {
      EXPECT_TRUE(target_->Flush().ok());
    }
    auto store = local::Store::Open(root_ + "/state/local.db");
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return {};
    auto rows = (*store)->List(std::nullopt);
    return rows.ok() ? *rows : std::vector<local::ObjectRow>{};
  }

  std::vector<Resource> desired_;
};

TEST(RowCipherTest, SealsWithAFreshNonceAndRefusesTamperingAndOtherKeys) {
  auto cipher = local::RowCipher::New(kKey);
  ASSERT_TRUE(cipher.ok());
  const std::string a = cipher->Seal("plain text", "app\x1fkey");
  const std::string b = cipher->Seal("plain text", "app\x1fkey");
  EXPECT_TRUE(local::RowCipher::IsSealed(a));
  EXPECT_NE(a, b);  // a fresh nonce per record
  EXPECT_FALSE(Contains(a, "plain text"));
  EXPECT_EQ(*cipher->Open(a, "app\x1fkey"), "plain text");
  EXPECT_EQ(*cipher->Open(b, "app\x1fkey"), "plain text");
  std::string raw;
  ASSERT_TRUE(Base64Decode(a.substr(5), &raw));
  EXPECT_EQ(raw.size(), 12u + 10u + 16u);  // nonce || ciphertext || tag
  for (size_t i : {size_t{0}, size_t{12}, raw.size() - 1}) {
    std::string bad = raw;
    bad[i] ^= 1;
    EXPECT_FALSE(cipher->Open("enc1:" + Base64Encode(bad), "app\x1fkey").ok()) << i;
  }
  EXPECT_FALSE(cipher->Open("enc1:!!", "app\x1fkey").ok());
  EXPECT_FALSE(local::RowCipher::New(kOtherKey)->Open(a, "app\x1fkey").ok());
  auto none = local::RowCipher::New("");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->enabled());
  EXPECT_EQ(none->Seal("plain", "x"), "plain");
  EXPECT_EQ(none->Open(a, "app\x1fkey").status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(local::RowCipher::New(std::string(31, 'x')).status().code(), Code::kInvalidArgument);
}

TEST(RowCipherTest, ADeferredKeyIsFetchedOnceOnFirstUseAndSealsAsTheSameKeyWould) {
  int calls = 0;
  auto lazy = local::RowCipher::Deferred([&] {
    ++calls;
    return std::string(kKey);
  });
  EXPECT_TRUE(lazy.enabled());
  EXPECT_EQ(calls, 0);  // enabled() does not wait for the key
  const std::string a = lazy.Seal("plain text", "app\x1fkey");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(*local::RowCipher::New(kKey)->Open(a, "app\x1fkey"), "plain text");
  EXPECT_EQ(*lazy.Open(local::RowCipher::New(kKey)->Seal("x", "y"), "y"), "x");
  EXPECT_EQ(lazy.SubKey("p"), local::RowCipher::New(kKey)->SubKey("p"));
  EXPECT_EQ(calls, 1);
}

TEST_F(SecretTargetTest, FileFromSecretWritesTheValueOwnerOnlyAndShowsItMasked) {
  const std::string planted = "pw-" + RandomHex(8);
  desired_ = {SecretRes("db", Obj({{"password", planted}}))};
  ctx_.desired = &desired_;
  Resource f = SecretFile(allowed_ + "/db.pw", "db", "password");

  auto expected = target_->Expected(ctx_, f);
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  const std::string json = resource::ToJson(*expected);
  EXPECT_FALSE(Contains(json, planted)) << json;
  EXPECT_FALSE(Contains(json, Base64Encode(planted))) << json;
  EXPECT_EQ(expected->FindPath({"spec", "content"})->as_string(), resource::kMaskedValue);
  EXPECT_EQ(expected->FindPath({"spec", "mode"})->as_string(), "0600");
  EXPECT_EQ(expected->FindPath({"spec", "fromSecret", "name"})->as_string(), "db");
  EXPECT_EQ(expected->FindPath({"spec", "contentHash"})->as_string().size(), 32u);

  auto c = Apply(f);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, ChangeKind::kCreated);
  EXPECT_FALSE(Contains(c->message, planted));
  EXPECT_EQ(Read(allowed_ + "/db.pw"), planted);
  EXPECT_EQ(ModeOf(allowed_ + "/db.pw"), 0600);

  // Observe reads the file and shows it the same way: in sync, nothing to see.
  LiveObject live = ObserveOne(f.id());
  ASSERT_TRUE(live.exists);
  EXPECT_EQ(live.body, *expected) << resource::ToJson(live.body);
  EXPECT_EQ(target_->AssessHealth(ctx_, live).status, HealthStatus::kHealthy);
  EXPECT_EQ(Apply(f)->kind, ChangeKind::kUnchanged);
  // Also after a reopen (the row holds the digest, not the value).
  Open();
  live = ObserveOne(f.id());
  EXPECT_EQ(live.body, *expected) << resource::ToJson(live.body);

  // spec.mode overrides the 0600 default.
  ASSERT_TRUE(Apply(SecretFile(allowed_ + "/db.pw", "db", "password", "0640")).ok());
  EXPECT_EQ(ModeOf(allowed_ + "/db.pw"), 0640);
  EXPECT_EQ(Read(allowed_ + "/db.pw"), planted);
}

TEST_F(SecretTargetTest, ChangingTheSecretValueUpdatesTheFileAndTheDiffShowsNoValue) {
  const std::string before = "old-" + RandomHex(8), after = "new-" + RandomHex(8);
  desired_ = {Make("Secret", "db", Obj({{"data", Obj({{"password", Base64Encode(before)}})}}))};
  ctx_.desired = &desired_;
  Resource f = SecretFile(allowed_ + "/db.pw", "db", "password");
  ASSERT_TRUE(Apply(f).ok());
  EXPECT_EQ(Read(allowed_ + "/db.pw"), before);

  // stringData over data, as Kubernetes does.
  desired_ = {Make("Secret", "db",
                   Obj({{"data", Obj({{"password", Base64Encode(before)}})},
                        {"stringData", Obj({{"password", after}})}}))};
  auto expected = target_->Expected(ctx_, f);
  ASSERT_TRUE(expected.ok());
  LiveObject live = ObserveOne(f.id());
  ASSERT_NE(live.body, *expected);  // the value changed: the File is out of sync
  const std::string d = diff::ResourceDiff(f.id(), live.body, *expected);
  EXPECT_TRUE(Contains(d, "contentHash")) << d;
  EXPECT_TRUE(Contains(d, resource::kMaskedValue)) << d;
  for (const std::string& v : {before, after, Base64Encode(before), Base64Encode(after)})
    EXPECT_FALSE(Contains(d, v)) << d;

  auto c = Apply(f);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, ChangeKind::kConfigured);
  EXPECT_EQ(c->message, "content");
  EXPECT_EQ(Read(allowed_ + "/db.pw"), after);
  EXPECT_EQ(ObserveOne(f.id()).body, *expected);
}

TEST_F(SecretTargetTest, AFileEditedOnDiskShowsAsDriftWithoutItsContent) {
  desired_ = {SecretRes("db", Obj({{"password", "s3cret-value"}}))};
  ctx_.desired = &desired_;
  Resource f = SecretFile(allowed_ + "/db.pw", "db", "password");
  ASSERT_TRUE(Apply(f).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(allowed_ + "/db.pw", "edited-by-hand", 0600).ok());
  LiveObject live = ObserveOne(f.id());
  ASSERT_TRUE(live.exists);
  EXPECT_NE(live.body, *target_->Expected(ctx_, f));
  EXPECT_EQ(live.body.FindPath({"spec", "content"})->as_string(), resource::kMaskedValue);
  EXPECT_FALSE(Contains(resource::ToJson(live.body), "edited-by-hand"));
  EXPECT_EQ(target_->AssessHealth(ctx_, live).status, HealthStatus::kDegraded);
  ASSERT_EQ(Apply(f)->kind, ChangeKind::kConfigured);
  EXPECT_EQ(Read(allowed_ + "/db.pw"), "s3cret-value");
}

TEST_F(SecretTargetTest, TheWatcherSeesEditsOfASecretFileButNotOwnWrites) {
  desired_ = {SecretRes("db", Obj({{"password", "first"}}))};
  ctx_.desired = &desired_;
  Resource f = SecretFile(allowed_ + "/db.pw", "db", "password");
  Resource other = FileRes("other", allowed_ + "/other", "o1\n");
  ASSERT_TRUE(Apply(f).ok());
  ASSERT_TRUE(Apply(other).ok());
  Open();  // the watcher's digest of the secret file now comes from the stored row
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, int> seen;
  target_->Watch([&](const std::string&, const ResourceId& id) {
    std::lock_guard<std::mutex> l(mu);
    ++seen[id.name];
    cv.notify_all();
  });
  auto wait_for = [&](const std::string& name, int times) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(10), [&] { return seen[name] >= times; });
  };
  auto count = [&](const std::string& name) {
    std::lock_guard<std::mutex> l(mu);
    return seen[name];
  };
  // A new value written by the runtime is not drift; the edit of `other` is a barrier.
  desired_ = {SecretRes("db", Obj({{"password", "second"}}))};
  ASSERT_EQ(Apply(f)->kind, ChangeKind::kConfigured);
  ASSERT_TRUE(fs::WriteFileAtomic(allowed_ + "/other", "edited\n").ok());
  ASSERT_TRUE(wait_for("other", 1));
  EXPECT_EQ(count("cred"), 0);
  // An edit by hand is.
  ASSERT_TRUE(fs::WriteFileAtomic(allowed_ + "/db.pw", "by hand", 0600).ok());
  ASSERT_TRUE(wait_for("cred", 1));
}

TEST_F(SecretTargetTest, AMissingSecretOrKeyIsAnErrorOnTheFileThatSaysWhatToDo) {
  desired_ = {SecretRes("db", Obj({{"password", "hunter2-value"}}))};
  ctx_.desired = &desired_;
  auto e = target_->Expected(ctx_, SecretFile(allowed_ + "/x", "nodb", "password"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
  const std::string& m1 = e.status().message();
  EXPECT_TRUE(Contains(m1, "test.yaml:1")) << m1;
  EXPECT_TRUE(Contains(m1, "spec.fromSecret: Secret nodb is not in the desired set")) << m1;
  EXPECT_TRUE(Contains(m1, "fix spec.fromSecret.name")) << m1;

  auto a = Apply(SecretFile(allowed_ + "/x", "db", "user"));
  ASSERT_FALSE(a.ok());
  const std::string& m2 = a.status().message();
  EXPECT_TRUE(Contains(m2, "test.yaml:1: spec.fromSecret: Secret db has no key \"user\"")) << m2;
  EXPECT_FALSE(Contains(m2, "hunter2-value")) << m2;
  EXPECT_FALSE(fs::Exists(allowed_ + "/x"));

  // Bad shapes name the field; content and fromSecret together are refused.
  Value spec = Obj({{"path", allowed_ + "/x"}, {"fromSecret", "db"}});
  e = target_->Expected(ctx_, Make("File", "f", Obj({{"spec", spec}})));
  EXPECT_TRUE(Contains(e.status().message(), "spec.fromSecret: must be a map {name, key}"));
  spec = Obj({{"path", allowed_ + "/x"},
              {"content", "x"},
              {"fromSecret", Obj({{"name", "db"}, {"key", "password"}})}});
  e = target_->Expected(ctx_, Make("File", "f", Obj({{"spec", spec}})));
  EXPECT_TRUE(Contains(e.status().message(), "set one of content, fromConfigMap, fromSecret"));
}

TEST_F(SecretTargetTest, SecretRowsAreEncryptedAndAnotherKeyMakesThemUnknown) {
  const std::string planted = "row-" + RandomHex(8);
  Resource s = SecretRes("db", Obj({{"password", planted}}));
  // Stored in plain text without a key (today's behaviour)...
  ASSERT_TRUE(Apply(s).ok());
  ASSERT_EQ(Rows().size(), 1u);
  EXPECT_FALSE(local::RowCipher::IsSealed(Rows()[0].body_json));
  EXPECT_FALSE(FilesContaining(root_ + "/state", {Base64Encode(planted)}, [](const std::string&) {
                 return false;
               }).empty());
  // ...and encrypted in place once a key is given.
  OpenWithKey(kKey);
  std::vector<local::ObjectRow> rows = Rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(local::RowCipher::IsSealed(rows[0].body_json)) << rows[0].body_json;
  // Nothing of the plain-text row is left in the database's or the WAL's bytes.
  EXPECT_EQ(FilesContaining(root_ + "/state", {planted, Base64Encode(planted)},
                            [](const std::string&) { return false; }),
            std::vector<std::string>{});
  auto expected = target_->Expected(ctx_, s);
  ASSERT_TRUE(expected.ok());
  EXPECT_NE(rows[0].hash, resource::CanonicalHash(*expected));  // keyed, not brute-forceable
  EXPECT_EQ(rows[0].hash.size(), 64u);
  LiveObject live = ObserveOne(s.id());
  ASSERT_TRUE(live.exists);
  EXPECT_EQ(live.body, *expected);
  EXPECT_EQ(Apply(s)->kind, ChangeKind::kUnchanged);

  // A record bound to one row does not open as another.
  auto cipher = local::RowCipher::New(kKey);
  ASSERT_TRUE(cipher.ok());
  EXPECT_TRUE(cipher->Open(rows[0].body_json, std::string("web\x1f") + rows[0].key).ok());
  EXPECT_FALSE(cipher->Open(rows[0].body_json, std::string("api\x1f") + rows[0].key).ok());

  // Another key: the Secret is unknown live state, and the next apply rewrites it.
  OpenWithKey(kOtherKey);
  EXPECT_FALSE(ObserveOne(s.id()).exists);
  EXPECT_EQ(target_->Inventory("web")->size(), 1u);
  auto c = Apply(s);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, ChangeKind::kCreated);
  OpenWithKey(kOtherKey);
  EXPECT_TRUE(ObserveOne(s.id()).exists);

  // No key at all: the encrypted row is unknown too, and can still be pruned.
  Open();
  EXPECT_FALSE(ObserveOne(s.id()).exists);
  auto removed = target_->Remove(ctx_, s.id());
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(removed->kind, ChangeKind::kDeleted);
  EXPECT_TRUE(target_->Inventory("web")->empty());

  auto bad = local::NewLocalTarget({.state_dir = root_ + "/state2", .secret_key = "short"});
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
}

TEST_F(SecretTargetTest, NoFileUnderTheStateDirectoryHoldsASecretOutsideItsDelivery) {
  OpenWithKey(kKey);
  const std::string planted = "planted-" + RandomHex(12);
  Resource secret = SecretRes("db", Obj({{"password", planted}}));
  Value env(resource::Array{
      Obj({{"name", "DB_PASSWORD"},
           {"valueFrom", Obj({{"secretKeyRef", Obj({{"name", "db"}, {"key", "password"}})}})}})});
  Value command(resource::Array{Value("/bin/sh"), Value("-c"), Value("exec sleep 60")});
  Resource process = Make(
      "Process", "api",
      Obj({{"spec",
            Obj({{"command", command}, {"env", env}, {"terminationGracePeriodSeconds", 1}})}}));
  Resource file = SecretFile(allowed_ + "/db.pw", "db", "password");
  desired_ = {secret, process, file};
  ctx_.desired = &desired_;
  for (const Resource& r : desired_) {
    auto c = Apply(r);
    ASSERT_TRUE(c.ok()) << r.id().ToString() << ": " << c.status().ToString();
  }
  // A running replica: its status files exist too.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  Health h;
  while ((h = target_->AssessHealth(ctx_, ObserveOne(process.id()))).status !=
             HealthStatus::kHealthy &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(h.status, HealthStatus::kHealthy) << h.message;
  ASSERT_TRUE(target_->Flush().ok());
  EXPECT_EQ(Read(allowed_ + "/db.pw"), planted);

  const std::vector<std::string> needles = {planted, Base64Encode(planted)};
  // The Process's environment is delivered through template.json and the replica's
  // spec.json (both 0600): those hold it by design.
  auto is_env_delivery = [](const std::string& path) {
    const std::string base = fs::Basename(path);
    return Contains(path, "/processes/") && (base == "template.json" || base == "spec.json");
  };
  // The grep does find the value where it is delivered.
  EXPECT_FALSE(FilesContaining(root_ + "/state", {planted}, [](const std::string&) {
                 return false;
               }).empty());
  EXPECT_EQ(FilesContaining(root_ + "/state", needles, is_env_delivery),
            std::vector<std::string>{});
  EXPECT_TRUE(fs::Exists(root_ + "/state/local.db-wal"));  // the WAL was grepped too

  // Reopened, the same holds after the encrypted rows were read back.
  OpenWithKey(kKey);
  EXPECT_TRUE(ObserveOne(secret.id()).exists);
  EXPECT_EQ(FilesContaining(root_ + "/state", needles, is_env_delivery),
            std::vector<std::string>{});

  // Stop the replica this test started, and wait until its shim is gone.
  ASSERT_TRUE(target_->Remove(ctx_, process.id()).ok());
  EXPECT_EQ(WaitNoReplicas(root_ + "/state"), 0);
}

}  // namespace
}  // namespace plumb::target
