#include "secrets/keystore.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "core/fs.h"
#include "secrets/sealed.h"

namespace plumb::secrets {
namespace {

constexpr int kTestBits = 2048;
constexpr const char* kAgeA =
    "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX";
constexpr const char* kAgeB =
    "AGE-SECRET-KEY-1XCJJ4ZDM7ESG38VXJEPFX6VVRMJQW0RDQFWEGRRW9VEU8RC6CCNSCKFQRS";

int ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { tmp_ = fs::TempDir(fs::MakeTempDir("keystore-test-").value()); }
  std::string Dir(const std::string& name = "keys") { return tmp_.path() + "/" + name; }
  std::unique_ptr<KeyStore> OpenOk(const std::string& dir) {
    auto s = KeyStore::Open(dir);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  fs::TempDir tmp_;
};

TEST_F(KeyStoreTest, OpenCreatesAPrivateEmptyDirectory) {
  auto store = OpenOk(Dir("state/keys"));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(ModeOf(Dir("state/keys")), 0700);
  EXPECT_TRUE(store->Current()->sealing.empty());
  EXPECT_EQ(store->CertificatePem().status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(store->DerivedKey("db").status().code(), Code::kFailedPrecondition);
}

TEST_F(KeyStoreTest, InitWritesKeyAndCertificateWithMode0600AndReloads) {
  auto store = OpenOk(Dir());
  auto info = store->Init(kTestBits);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->bits, kTestBits);
  EXPECT_EQ(info->fingerprint.size(), 64u);
  EXPECT_EQ(info->id.rfind("sealed-secrets-key-", 0), 0u);
  EXPECT_EQ(ModeOf(Dir() + "/" + info->id + ".pem"), 0600);
  EXPECT_EQ(ModeOf(Dir() + "/" + info->id + ".crt"), 0600);
  EXPECT_EQ(store->Init(kTestBits).status().code(), Code::kAlreadyExists);

  auto cert = store->CertificatePem();
  ASSERT_TRUE(cert.ok());
  auto again = OpenOk(Dir());
  ASSERT_EQ(again->Current()->sealing_info.size(), 1u);
  EXPECT_EQ(again->Current()->sealing_info[0].id, info->id);
  EXPECT_EQ(again->Current()->sealing_info[0].fingerprint, info->fingerprint);
  EXPECT_EQ(again->CertificatePem().value(), *cert);  // stable across restarts
}

TEST_F(KeyStoreTest, InitInBackgroundGeneratesOnceAndWhatNeedsTheKeyWaitsForIt) {
  auto store = OpenOk(Dir());
  std::atomic<int> done{0};
  std::string made_id;
  store->InitInBackground(kTestBits, [&](const Result<KeyInfo>& info) {
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    made_id = info->id;
    ++done;
  });
  store->InitInBackground(kTestBits, nullptr);  // already running: no second key
  // DerivedKey and CertificatePem wait for the generation instead of failing.
  auto derived = store->DerivedKey("db");
  ASSERT_TRUE(derived.ok()) << derived.status().ToString();
  EXPECT_EQ(derived->size(), 32u);
  EXPECT_TRUE(store->CertificatePem().ok());
  store->WaitForKeys();
  ASSERT_EQ(store->Current()->sealing_info.size(), 1u);
  store->InitInBackground(kTestBits, nullptr);  // a key exists: nothing happens
  store.reset();                                // joins the generating thread
  EXPECT_EQ(done.load(), 1);
  auto again = OpenOk(Dir());
  ASSERT_EQ(again->Current()->sealing_info.size(), 1u);
  EXPECT_EQ(again->Current()->sealing_info[0].id, made_id);
  EXPECT_EQ(again->DerivedKey("db").value(), *derived);
}

TEST_F(KeyStoreTest, GenerateWhenNeededMakesTheKeyAtTheFirstCallThatNeedsIt) {
  auto store = OpenOk(Dir());
  std::atomic<int> done{0};
  store->GenerateWhenNeeded(kTestBits, [&](const Result<KeyInfo>& info) {
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    ++done;
  });
  store->WaitForKeys();  // arming generates nothing
  EXPECT_TRUE(store->Current()->sealing.empty());
  EXPECT_TRUE(fs::ListDir(Dir()).value().empty());
  // Two threads need it at once: one key, made once.
  Result<std::string> a = Internal(""), b = Internal("");
  std::thread other([&] { a = store->DerivedKey("db"); });
  b = store->DerivedKey("db");
  other.join();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(done.load(), 1);
  ASSERT_EQ(store->Current()->sealing_info.size(), 1u);
  EXPECT_TRUE(store->CertificatePem().ok());
  EXPECT_TRUE(store->EnsureKey().ok());
  EXPECT_EQ(done.load(), 1);
  // Not armed: nothing is made, and what needs the key says there is none.
  auto plain = OpenOk(Dir("other"));
  EXPECT_EQ(plain->EnsureKey().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(plain->Current()->sealing.empty());
}

TEST_F(KeyStoreTest, TwoStoresOnOneDirectoryMakeOneFirstKey) {
  // As two processes would (plumb run --once and plumb keys export-public): the lock file
  // lets one make the key and the other load it, so both derive the same local.db key.
  auto one = OpenOk(Dir());
  auto two = OpenOk(Dir());
  std::atomic<int> made{0};
  auto count = [&](const Result<KeyInfo>& info) {
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    ++made;
  };
  one->GenerateWhenNeeded(kTestBits, count);
  two->InitInBackground(kTestBits, count);
  auto derived_one = one->DerivedKey("local.db");
  auto derived_two = two->DerivedKey("local.db");
  ASSERT_TRUE(derived_one.ok()) << derived_one.status().ToString();
  ASSERT_TRUE(derived_two.ok()) << derived_two.status().ToString();
  EXPECT_EQ(*derived_one, *derived_two);
  EXPECT_EQ(made.load(), 1);
  EXPECT_EQ(one->Current()->sealing_info.size(), 1u);
  EXPECT_EQ(two->Current()->sealing_info.size(), 1u);
  EXPECT_EQ(two->Init(kTestBits).status().code(), Code::kAlreadyExists);
  auto reopened = OpenOk(Dir());
  EXPECT_EQ(reopened->Current()->sealing_info.size(), 1u);
  // A store opened before another made the key takes that key instead of making a
  // second first key (whose derived key would differ).
  auto early = OpenOk(Dir("late"));
  auto maker = OpenOk(Dir("late"));
  ASSERT_TRUE(maker->Init(kTestBits).ok());
  early->GenerateWhenNeeded(kTestBits, count);
  EXPECT_EQ(early->DerivedKey("local.db").value(), maker->DerivedKey("local.db").value());
  EXPECT_EQ(early->Init(kTestBits).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(made.load(), 1);
  EXPECT_EQ(OpenOk(Dir("late"))->Current()->sealing_info.size(), 1u);
}

TEST_F(KeyStoreTest, AWriterGivesUpOnALockHeldTooLongAndSaysWhere) {
  // Another process holding STATE_DIR/keys/.lock (stopped mid-generation) is a flock on
  // another open file description: this store waits for it, then says so instead of
  // hanging; once released, the same call goes through.
  auto store = OpenOk(Dir());
  store->set_lock_wait(std::chrono::milliseconds(50));
  std::string lock_path = fs::JoinPath(store->dir(), ".lock");
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  auto held = store->Init(kTestBits);
  ASSERT_FALSE(held.ok());
  EXPECT_EQ(held.status().code(), Code::kUnavailable);
  EXPECT_NE(held.status().message().find(lock_path), std::string::npos) << held.status().ToString();
  EXPECT_TRUE(store->Current()->sealing.empty());
  ::close(fd);
  EXPECT_TRUE(store->Init(kTestBits).ok());
}

TEST_F(KeyStoreTest, RotateAndRestoreTakeTheKeysAnotherProcessMadeFirst) {
  // A store opened before another made the first key rotates on top of that key (the
  // oldest, which local.db's key derives from), not beside it as a second first key.
  auto early = OpenOk(Dir());
  auto maker = OpenOk(Dir());
  ASSERT_TRUE(maker->Init(kTestBits).ok());
  const std::string derived = maker->DerivedKey("local.db").value();
  ASSERT_TRUE(early->Rotate(kTestBits).ok());
  EXPECT_EQ(early->Current()->sealing_info.size(), 2u);
  EXPECT_EQ(early->DerivedKey("local.db").value(), derived);
  EXPECT_EQ(OpenOk(Dir())->DerivedKey("local.db").value(), derived);
  // A restore into a store opened before another made its first key holds both keys, as
  // the directory does (it does not go on without the other's key).
  auto late = OpenOk(Dir("other"));
  auto first = OpenOk(Dir("other"));
  ASSERT_TRUE(first->Init(kTestBits).ok());
  ASSERT_TRUE(late->Restore(maker->Backup()).ok());
  EXPECT_EQ(late->Current()->sealing_info.size(), 2u);
  EXPECT_EQ(OpenOk(Dir("other"))->Current()->sealing_info.size(), 2u);
}

TEST_F(KeyStoreTest, KeysAreNotMadeInADirectoryOfAnotherUser) {
  // `sudo plumb keys export-public` on the directory of an operator that runs as another
  // user: a key made now would be root's 0600 file, and that operator could not start.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the directory to another user";
  auto donor = OpenOk(Dir("donor"));
  ASSERT_TRUE(donor->Init(kTestBits).ok());
  auto store = OpenOk(Dir());
  store->GenerateWhenNeeded(kTestBits, nullptr);
  ASSERT_EQ(::chown(Dir().c_str(), 65534, 65534), 0);
  for (Status s : {store->Init(kTestBits).status(), store->Rotate(kTestBits).status(),
                   store->EnsureKey(), store->Restore(donor->Backup())}) {
    EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("belongs to uid 65534"), std::string::npos) << s.ToString();
  }
  EXPECT_TRUE(fs::ListDir(Dir()).value().empty());  // not even the lock file
}

TEST_F(KeyStoreTest, RefusesKeyFilesOthersCanReadAndDirectoriesOthersCanWrite) {
  auto store = OpenOk(Dir());
  auto info = store->Init(kTestBits).value();
  std::string pem = Dir() + "/" + info.id + ".pem";
  ASSERT_EQ(::chmod(pem.c_str(), 0644), 0);
  auto bad = KeyStore::Open(Dir());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(bad.status().message().find("chmod 600 " + pem), std::string::npos)
      << bad.status().message();
  ASSERT_EQ(::chmod(pem.c_str(), 0600), 0);
  ASSERT_EQ(::chmod(Dir().c_str(), 0777), 0);
  bad = KeyStore::Open(Dir());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("chmod 700"), std::string::npos);
}

TEST_F(KeyStoreTest, RotateMakesTheNewKeyNewestAndKeepsOldValuesWorking) {
  auto store = OpenOk(Dir());
  auto first = store->Init(kTestBits).value();
  std::shared_ptr<const KeySet> before = store->Current();
  std::string sealed = SealValue(before->sealing[0].public_key(), "default/db", "s3cret").value();
  std::string cert1 = store->CertificatePem().value();

  auto second = store->Rotate(kTestBits).value();  // same second: still strictly newer
  EXPECT_GT(second.created_unix, first.created_unix);
  EXPECT_GT(second.id, first.id);
  auto now = store->Current();
  ASSERT_EQ(now->sealing.size(), 2u);
  EXPECT_EQ(now->sealing_info[0].id, second.id);
  EXPECT_EQ(now->sealing_info[1].id, first.id);
  EXPECT_NE(store->CertificatePem().value(), cert1);
  EXPECT_EQ(before->sealing.size(), 1u);  // a snapshot does not change

  bool opened = false;
  for (const auto& k : now->sealing) opened |= UnsealValue(k, "default/db", sealed).ok();
  EXPECT_TRUE(opened);
  auto reopened = OpenOk(Dir());
  EXPECT_EQ(reopened->Current()->sealing_info[0].id, second.id);
}

TEST_F(KeyStoreTest, RenewIfDueRotatesOnlyWhenTheNewestKeyIsOld) {
  auto store = OpenOk(Dir());
  const int64_t t0 = 1'800'000'000, day = 86400;
  EXPECT_TRUE(store->RenewIfDue(30 * day, t0, kTestBits).value());  // no key yet
  EXPECT_FALSE(store->RenewIfDue(30 * day, t0 + 29 * day, kTestBits).value());
  EXPECT_TRUE(store->RenewIfDue(30 * day, t0 + 30 * day, kTestBits).value());
  EXPECT_FALSE(store->RenewIfDue(30 * day, t0 + 31 * day, kTestBits).value());
  auto set = store->Current();
  ASSERT_EQ(set->sealing_info.size(), 2u);
  EXPECT_EQ(set->sealing_info[0].created_unix, t0 + 30 * day);
  EXPECT_EQ(set->sealing_info[1].created_unix, t0);
}

TEST_F(KeyStoreTest, AgeIdentitiesAreStoredOnceWithMode0600) {
  auto store = OpenOk(Dir());
  ASSERT_TRUE(store->AddAgeIdentity(kAgeA).ok());
  ASSERT_TRUE(store->AddAgeIdentity(std::string(kAgeB) + "\n").ok());
  ASSERT_TRUE(store->AddAgeIdentity(kAgeA).ok());
  Status bad = store->AddAgeIdentity("AGE-SECRET-KEY-1 not valid");
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.message().find("not valid"), std::string::npos);  // never echoes the input
  EXPECT_EQ(store->Current()->age_identities, (std::vector<std::string>{kAgeA, kAgeB}));
  EXPECT_EQ(ModeOf(Dir() + "/identities.agekey"), 0600);
  EXPECT_EQ(OpenOk(Dir())->Current()->age_identities, (std::vector<std::string>{kAgeA, kAgeB}));
}

TEST_F(KeyStoreTest, BackupRestoresEverythingIntoAnEmptyDirectoryAndTwiceIsHarmless) {
  auto store = OpenOk(Dir("a"));
  store->Rotate(kTestBits, 1'700'000'000).value();
  store->Rotate(kTestBits, 1'700'000'100).value();
  ASSERT_TRUE(store->AddAgeIdentity(kAgeA).ok());
  std::string sealed =
      SealValue(store->Current()->sealing[1].public_key(), "prod/db", "old value").value();
  std::string backup = store->Backup();
  EXPECT_NE(backup.find("Key-Id: "), std::string::npos);
  EXPECT_NE(backup.find(kAgeA), std::string::npos);

  auto fresh = OpenOk(Dir("b"));
  ASSERT_TRUE(fresh->Restore(backup).ok());
  ASSERT_TRUE(fresh->Restore(backup).ok());
  auto got = OpenOk(Dir("b"))->Current();
  auto want = store->Current();
  ASSERT_EQ(got->sealing_info.size(), 2u);
  for (size_t i = 0; i < 2; i++) {
    EXPECT_EQ(got->sealing_info[i].id, want->sealing_info[i].id);
    EXPECT_EQ(got->sealing_info[i].created_unix, want->sealing_info[i].created_unix);
    EXPECT_EQ(got->sealing_info[i].fingerprint, want->sealing_info[i].fingerprint);
  }
  EXPECT_EQ(got->age_identities, std::vector<std::string>{kAgeA});
  EXPECT_EQ(UnsealValue(got->sealing[1], "prod/db", sealed).value(), "old value");
  EXPECT_EQ(fresh->DerivedKey("local.db").value(), store->DerivedKey("local.db").value());
  EXPECT_EQ(fresh->CertificatePem().value(), store->CertificatePem().value());
}

TEST_F(KeyStoreTest, RestoreTakesBarePemKeysAndRefusesGarbageWithoutWriting) {
  auto donor = PrivateKey::Generate(kTestBits).value();
  auto store = OpenOk(Dir());
  Status bad = store->Restore("hello\n" + donor.ToPem());
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_NE(bad.message().find("line 1"), std::string::npos) << bad.message();
  EXPECT_TRUE(store->Current()->sealing.empty());
  ASSERT_TRUE(store->Restore(donor.ToPem()).ok());
  ASSERT_EQ(store->Current()->sealing.size(), 1u);
  EXPECT_EQ(store->Current()->sealing_info[0].fingerprint,
            PublicKeyFingerprint(donor.public_key()));
}

TEST_F(KeyStoreTest, DerivedKeyIsStableAcrossRotationAndDependsOnPurpose) {
  auto store = OpenOk(Dir());
  store->Init(kTestBits).value();
  std::string a = store->DerivedKey("local.db").value();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(store->DerivedKey("other").value(), a);
  store->Rotate(kTestBits).value();
  EXPECT_EQ(store->DerivedKey("local.db").value(), a);
}

TEST_F(KeyStoreTest, ReadersSeeWholeSnapshotsWhileAWriterRotates) {
  auto store = OpenOk(Dir());
  store->Init(kTestBits).value();
  std::thread writer([&] { store->Rotate(kTestBits).value(); });
  for (int i = 0; i < 1000; i++) {
    auto set = store->Current();
    ASSERT_EQ(set->sealing.size(), set->sealing_info.size());
    ASSERT_GE(set->sealing.size(), 1u);
  }
  writer.join();
  EXPECT_EQ(store->Current()->sealing.size(), 2u);
}

}  // namespace
}  // namespace plumb::secrets
