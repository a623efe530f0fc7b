// Test helpers for the local target: resource builders and a fixture with a temp
// directory holding an allowed directory, an outside directory and the state directory.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/fs.h"
#include "resource/resource.h"
#include "target/local/local_target.h"
#include "target/target.h"

namespace plumb::target {

using resource::Object;
using resource::Resource;
using resource::ResourceId;
using resource::Value;

inline Value Obj(std::initializer_list<std::pair<const char*, Value>> members) {
  Object o;
  for (auto& [k, v] : members) o.emplace_back(k, v);
  return Value(std::move(o));
}

// Polls (a deadline of 15 s) until no replica directory is left under STATE/processes (their
// shims gone after a Remove); returns how many are left.
inline int WaitNoReplicas(const std::string& state) {
  auto left = [&] {
    int n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(state + "/processes"))
      n += e.is_directory() && fs::Basename(e.path().string())[0] == 'r';
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (left() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return left();
}

inline Resource Make(const char* kind, const std::string& name, Value rest) {
  Value body = Obj({{"apiVersion", "local.plumbline.dev/v1"},
                    {"kind", kind},
                    {"metadata", Obj({{"name", name}})}});
  for (auto& [k, v] : rest.as_object()) body.Set(k, v);
  auto r = Resource::FromValue(std::move(body), {"test.yaml", 1});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : Resource();
}

inline Resource FileRes(const std::string& name, const std::string& path,
                        const std::string& content, Value mode = Value()) {
  Value spec = Obj({{"path", path}, {"content", content}});
  if (!mode.is_null()) spec.Set("mode", mode);
  return Make("File", name, Obj({{"spec", spec}}));
}

inline std::string Read(const std::string& path) {
  auto r = fs::ReadFile(path);
  return r.ok() ? *r : "<" + r.status().ToString() + ">";
}

inline int ModeOf(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

class LocalTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = fs::MakeTempDir("plumb-target-test-");
    ASSERT_TRUE(dir.ok());
    tmp_ = fs::TempDir(*dir);
    root_ = *dir;
    allowed_ = root_ + "/allowed";
    outside_ = root_ + "/outside";
    ASSERT_TRUE(fs::MakeDirs(allowed_).ok());
    ASSERT_TRUE(fs::MakeDirs(outside_).ok());
    Open();
  }

  void Open(std::vector<std::string> allow = {}, Duration rescan = Duration(30000)) {
    target_.reset();
    if (allow.empty()) allow = {allowed_};
    auto t = local::NewLocalTarget({.state_dir = root_ + "/state",
                                    .allow_paths = allow,
                                    .rescan_interval = rescan,
                                    .durable = true});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    target_ = std::move(t).value();
  }

  // Applies, then asks the target something (as the engine does before it looks at the
  // host), so a File written into a staging directory is in place when this returns.
  Result<Change> Apply(const Resource& r) {
    auto change = target_->Apply(ctx_, r);
    (void)target_->UnchangedSinceApplied(ctx_, std::vector<resource::ResourceId>{});
    return change;
  }

  LiveObject ObserveOne(const ResourceId& id) {
    auto live = target_->Observe(ctx_, {id});
    EXPECT_TRUE(live.ok()) << live.status().ToString();
    return live.ok() && live->size() == 1 ? (*live)[0] : LiveObject{};
  }

  fs::TempDir tmp_;
  std::string root_, allowed_, outside_;
  std::unique_ptr<Target> target_;
  AppContext ctx_{.app = "web"};
};

}  // namespace plumb::target
