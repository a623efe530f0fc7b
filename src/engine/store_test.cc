#include "engine/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "core/fs.h"
#include "engine/engine.h"
#include "resource/codec.h"

namespace plumb::engine {
namespace {

ResourceStatusList Rows(std::initializer_list<std::pair<const char*, const char*>> name_sync) {
  std::vector<ResourceStatus> rows;
  for (const auto& [name, sync] : name_sync) {
    ResourceStatus r;
    r.id = {"local.plumbline.dev", "File", "", name};
    r.sync = sync;
    r.health = "Healthy";
    r.origin = std::string("resources/") + name + ".yaml:1";
    rows.push_back(std::move(r));
  }
  return ResourceStatusList(std::move(rows));
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = fs::MakeTempDir("plumb-store-test-");
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    tmp_ = fs::TempDir(*dir);
    Reopen();
    ASSERT_TRUE(store_->PutApp(AppSpec{.name = "web", .repo = "/srv/repo.git"}).ok());
  }
  void Reopen() {
    store_.reset();
    auto s = Store::Open(tmp_.path());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  AppStatus Stored() {
    auto apps = store_->ListApps();
    EXPECT_TRUE(apps.ok()) << apps.status().ToString();
    EXPECT_EQ(apps->size(), 1u);
    return apps->empty() ? AppStatus{} : (*apps)[0].status;
  }
  // Runs SQL on engine.db behind the store's back (another connection).
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((tmp_.path() + "/engine.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
    sqlite3_free(err);
    sqlite3_close(db);
  }

  fs::TempDir tmp_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, StatusRoundTripsWithItsResources) {
  AppStatus s;
  s.sync = "OutOfSync";
  s.last_reconcile_ms = 1000;
  s.plan_ms = 12;
  s.resources = Rows({{"a", "Synced"}, {"b", "OutOfSync"}});
  s.conditions.push_back({"SecretLeak", "head adds a secret"});
  ASSERT_TRUE(store_->PutStatus("web", s).ok());
  Reopen();
  AppStatus back = Stored();
  EXPECT_EQ(resource::ToJson(back.ToValue()), resource::ToJson(s.ToValue()));
}

TEST_F(StoreTest, UnchangedResourcesAreKeptWhileTheSummaryIsWrittenEveryTime) {
  AppStatus s;
  s.resources = Rows({{"a", "Synced"}, {"b", "OutOfSync"}});
  s.last_reconcile_ms = 1000;
  ASSERT_TRUE(store_->PutStatus("web", s).ok());
  // The same list again: only the summary is written. Prove it by changing the stored
  // list behind the store's back: a summary-only write leaves that change in place.
  Sql("UPDATE app_resources SET resources='[{\"name\":\"planted\"}]'");
  s.last_reconcile_ms = 2000;
  s.plan_ms = 7;
  ASSERT_TRUE(store_->PutStatus("web", s).ok());
  AppStatus back = Stored();
  EXPECT_EQ(back.last_reconcile_ms, 2000);
  EXPECT_EQ(back.plan_ms, 7);
  ASSERT_EQ(back.resources.size(), 1u);
  EXPECT_EQ(back.resources[0].id.name, "planted");
}

TEST_F(StoreTest, AChangedResourceIsWrittenAndSurvivesARestartAfterSummaryOnlyWrites) {
  AppStatus s;
  s.resources = Rows({{"a", "Synced"}, {"b", "Synced"}});
  ASSERT_TRUE(store_->PutStatus("web", s).ok());
  s.resources = Rows({{"a", "Synced"}, {"b", "OutOfSync"}});  // b drifted
  s.sync = "OutOfSync";
  ASSERT_TRUE(store_->PutStatus("web", s).ok());
  for (int64_t t = 1; t <= 3; ++t) {  // no-op passes: the summary only
    s.last_reconcile_ms = t;
    ASSERT_TRUE(store_->PutStatus("web", s).ok());
  }
  Reopen();  // as after a kill -9: nothing but engine.db
  AppStatus back = Stored();
  EXPECT_EQ(back.last_reconcile_ms, 3);
  EXPECT_EQ(back.sync, "OutOfSync");
  ASSERT_EQ(back.resources.size(), 2u);
  EXPECT_EQ(back.resources[1].sync, "OutOfSync");

  // After the restart, the list read back counts as stored: passing it again writes the
  // summary only, and a changed one is written.
  Sql("UPDATE app_resources SET resources='[{\"name\":\"planted\"}]'");
  back.last_reconcile_ms = 4;
  ASSERT_TRUE(store_->PutStatus("web", back).ok());
  EXPECT_EQ(Stored().resources[0].id.name, "planted");
  back.resources = Rows({{"a", "Synced"}, {"b", "Synced"}});
  ASSERT_TRUE(store_->PutStatus("web", back).ok());
  Reopen();
  ASSERT_EQ(Stored().resources.size(), 2u);
  EXPECT_EQ(Stored().resources[1].sync, "Synced");
  EXPECT_EQ(Stored().last_reconcile_ms, 4);
}

TEST_F(StoreTest, AnApplicationDeletedAndAddedAgainGetsItsResourcesWritten) {
  AppStatus s;
  s.resources = Rows({{"a", "Synced"}});
  ASSERT_TRUE(store_->PutStatus("web", s).ok());
  ASSERT_TRUE(store_->DeleteApp("web").ok());
  ASSERT_TRUE(store_->PutApp(AppSpec{.name = "web", .repo = "/srv/repo.git"}).ok());
  ASSERT_TRUE(store_->PutStatus("web", s).ok());  // the same list object as before
  ASSERT_EQ(Stored().resources.size(), 1u);
}

TEST_F(StoreTest, StatusWrittenBeforeTheResourcesTableIsRead) {
  // engine.db as an earlier version left it: the list inside the status, no table.
  store_.reset();
  Sql("DROP TABLE app_resources");
  AppStatus s;
  s.health = "Degraded";
  s.resources = Rows({{"a", "Synced"}, {"b", "OutOfSync"}});
  Sql("UPDATE apps SET status='" + resource::ToJson(s.ToValue()) + "'");
  Reopen();
  AppStatus back = Stored();
  EXPECT_EQ(back.health, "Degraded");
  ASSERT_EQ(back.resources.size(), 2u);
  EXPECT_EQ(back.resources[1].sync, "OutOfSync");
  // The first write moves the list to its table.
  back.last_reconcile_ms = 5;
  ASSERT_TRUE(store_->PutStatus("web", back).ok());
  Reopen();
  EXPECT_EQ(Stored().resources.size(), 2u);
  EXPECT_EQ(Stored().last_reconcile_ms, 5);
}

// engine.db's format number, read behind the store's back.
int64_t FormatOf(const std::string& dir) {
  sqlite3* db = nullptr;
  int64_t v = -1;
  if (sqlite3_open((dir + "/engine.db").c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return v;
}

TEST_F(StoreTest, ADatabaseOfANewerFormatIsRefusedAndLeftAsItIs) {
  // Format 2: history changes in their own table. A binary of format 1 or before would
  // read finished rows as changing nothing; a binary of format 1 refuses it.
  EXPECT_EQ(FormatOf(tmp_.path()), 2);
  store_.reset();
  Sql("PRAGMA user_version=99");
  auto s = Store::Open(tmp_.path());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("engine.db format 99"), std::string::npos)
      << s.status().message();
  EXPECT_EQ(FormatOf(tmp_.path()), 99);  // nothing written
}

TEST(ResourceStatusListTest, BuilderKeepsTheSameListWhenNoRowChanged) {
  ResourceStatusList last = Rows({{"a", "Synced"}, {"b", "Synced"}});
  auto add = [](ResourceStatusList::Builder& b, const char* name, const char* sync) {
    b.Add({"local.plumbline.dev", "File", "", name},
          {std::string("resources/") + name + ".yaml", 1}, sync, "Healthy", "");
  };
  ResourceStatusList::Builder same(last);
  add(same, "a", "Synced");
  add(same, "b", "Synced");
  EXPECT_TRUE(same.Finish().SameAs(last));

  ResourceStatusList::Builder changed(last);
  add(changed, "a", "Synced");
  add(changed, "b", "OutOfSync");
  ResourceStatusList next = changed.Finish();
  EXPECT_FALSE(next.SameAs(last));
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0], last[0]);
  EXPECT_EQ(next[1].sync, "OutOfSync");
  EXPECT_EQ(next[1].origin, "resources/b.yaml:1");

  ResourceStatusList::Builder fewer(last);
  add(fewer, "a", "Synced");
  ResourceStatusList one = fewer.Finish();
  EXPECT_FALSE(one.SameAs(last));
  EXPECT_EQ(one.size(), 1u);

  ResourceStatusList::Builder more(last);
  add(more, "a", "Synced");
  add(more, "b", "Synced");
  add(more, "c", "Synced");
  EXPECT_EQ(more.Finish().size(), 3u);

  ResourceStatusList::Builder moved(last);  // another line in the same file
  moved.Add({"local.plumbline.dev", "File", "", "a"}, {"resources/a.yaml", 2}, "Synced", "Healthy",
            "");
  EXPECT_EQ(moved.Finish()[0].origin, "resources/a.yaml:2");
}

TEST(ResourceStatusListTest, ToJsonIsTheTextOfToValue) {
  EXPECT_EQ(ResourceStatusList().ToJson(), resource::ToJson(ResourceStatusList().ToValue()));
  std::vector<ResourceStatus> rows(2);
  rows[0].id = {"local.plumbline.dev", "File", "", "a"};
  rows[0].message = "quote \" backslash \\ newline \n tab \t \x01 \xc3\xa9";
  rows[1].id = {"apps", "Deployment", "web", "x"};
  rows[1].sync = "Synced";
  rows[1].health = "Healthy";
  rows[1].origin = "a/b.yaml:3";
  ResourceStatusList list(std::move(rows));
  EXPECT_EQ(list.ToJson(), resource::ToJson(list.ToValue()));
  // And it reads back.
  auto back = resource::ParseJson(list.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(ResourceStatusList::FromValue(*back).rows(), list.rows());
}

TEST(ResourceStatusListTest, PackedRowsGiveBackEveryOriginAndStringAsGiven) {
  // Origins are packed as (file, line): every text comes back as it was, whatever it is.
  std::vector<ResourceStatus> rows;
  for (const char* origin : {"a.yaml:3", "a.yaml", "a.yaml:0", "a.yaml:007", "x:5:6", "", ":",
                             "b.yaml:", "c.yaml:-1", "d.yaml:99999999999", "a.yaml:3"}) {
    ResourceStatus r;
    r.id = {"local.plumbline.dev", "File", "", std::string("n-") + origin};
    r.origin = origin;
    r.message = rows.size() % 2 ? "" : "message of " + std::string(origin);
    rows.push_back(std::move(r));
  }
  ResourceStatusList list(rows);
  EXPECT_EQ(list.rows(), rows);
  EXPECT_EQ(list[3].origin, "a.yaml:007");
  auto back = resource::ParseJson(list.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(ResourceStatusList::FromValue(*back).rows(), rows);
  // A row built from an Origin compares equal to the row read back with the same text.
  ResourceStatusList::Builder same(list);
  for (const ResourceStatus& r : rows) {
    resource::Origin o{r.origin, 0};
    same.Add(r.id, o, r.sync, r.health, r.message);
  }
  EXPECT_TRUE(same.Finish().SameAs(list));
}

TEST(ResourceStatusListTest, JsonInPiecesIsTheWholeText) {
  std::vector<ResourceStatus> rows(500);
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].id = {"local.plumbline.dev", "File", "", "file-" + std::to_string(i)};
    rows[i].origin = "resources/part.yaml:" + std::to_string(i + 1);
  }
  ResourceStatusList list(rows);
  std::string pieces;
  size_t calls = 0;
  ASSERT_TRUE(list.WriteJson(
                      [&](std::string_view piece) {
                        pieces += piece;
                        ++calls;
                        return Status::Ok();
                      },
                      1024)
                  .ok());
  EXPECT_GT(calls, 10u);
  EXPECT_EQ(pieces, list.ToJson());
  EXPECT_EQ(list.JsonSize(), pieces.size());
  EXPECT_EQ(pieces, resource::ToJson(list.ToValue()));
  // A sink that refuses stops the writing with its status.
  size_t refused = 0;
  Status s = list.WriteJson(
      [&](std::string_view) {
        ++refused;
        return Unavailable("disk full");
      },
      1024);
  EXPECT_EQ(s.message(), "disk full");
  EXPECT_EQ(refused, 1u);
}

TEST(ResourceStatusListTest, FilterPagesAndSummaryCountWithoutTheTree) {
  std::vector<ResourceStatus> rows(7);
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].id = {"local.plumbline.dev", "File", "", "f" + std::to_string(i)};
    rows[i].sync = i % 3 == 0 ? "OutOfSync" : "Synced";
    rows[i].health = i == 6 ? "Degraded" : "Healthy";
  }
  ResourceStatusList list(rows);
  auto write = [&](const ResourceFilter& f, size_t* matched) {
    std::string out;
    EXPECT_TRUE(list.WriteJson(
                        [&](std::string_view s) {
                          out += s;
                          return Status::Ok();
                        },
                        f, matched, 64)
                    .ok());
    auto v = resource::ParseJson(out);
    EXPECT_TRUE(v.ok()) << out;
    std::vector<std::string> names;
    for (const auto& r : v->as_array()) names.push_back(r.GetString("name"));
    return names;
  };
  size_t matched = 99;
  EXPECT_EQ(write({}, &matched).size(), 7u);
  EXPECT_EQ(matched, 7u);
  using V = std::vector<std::string>;
  EXPECT_EQ(write({.sync = "OutOfSync"}, &matched), (V{"f0", "f3", "f6"}));
  EXPECT_EQ(matched, 3u);
  EXPECT_EQ(write({.sync = "OutOfSync", .health = "Healthy"}, &matched), (V{"f0", "f3"}));
  EXPECT_EQ(write({.offset = 2, .limit = 3}, &matched), (V{"f2", "f3", "f4"}));
  EXPECT_EQ(matched, 7u);
  EXPECT_EQ(write({.sync = "Synced", .offset = 1, .limit = 1}, &matched), (V{"f2"}));
  EXPECT_EQ(matched, 4u);
  EXPECT_EQ(write({.offset = 7}, &matched), V{});
  EXPECT_EQ(write({.health = "Missing"}, &matched), V{});
  EXPECT_EQ(matched, 0u);
  EXPECT_EQ(write({.limit = 0}, &matched), V{});

  ResourceSummary sum = list.Summarize();
  EXPECT_EQ(sum.total, 7u);
  using C = std::vector<std::pair<std::string, size_t>>;
  EXPECT_EQ(sum.sync, (C{{"OutOfSync", 3}, {"Synced", 4}}));
  EXPECT_EQ(sum.health, (C{{"Degraded", 1}, {"Healthy", 6}}));
  EXPECT_EQ(resource::ToJson(sum.ToValue()),
            R"({"sync":{"OutOfSync":3,"Synced":4},"health":{"Degraded":1,"Healthy":6}})");
  EXPECT_EQ(resource::ToJson(ResourceStatusList().Summarize().ToValue()),
            R"({"sync":{},"health":{}})");
}

TEST(AppStatusTest, JsonTextIsTheValueWithCountsAndStreamedRows) {
  AppStatus st;
  st.sync = "OutOfSync";
  st.phase = "Idle";
  st.conditions.push_back({"SecretLeak", "a \"quoted\" message"});
  std::vector<ResourceStatus> rows(3);
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].id = {"", "File", "", "f" + std::to_string(i)};
    rows[i].sync = i == 1 ? "OutOfSync" : "Synced";
    rows[i].origin = "a.yaml:" + std::to_string(i + 1);
  }
  st.resources = ResourceStatusList(rows);
  auto text = [&](const ResourceFilter* f) {
    std::string out;
    EXPECT_TRUE(st.WriteJson(
                      [&](std::string_view s) {
                        out += s;
                        return Status::Ok();
                      },
                      f)
                    .ok());
    return out;
  };
  // Every row: ToValue()'s text, with the counts before `conditions`.
  resource::Value want = st.ToValue();
  resource::Value conditions = *want.Find("conditions");
  want.Erase("conditions");
  want.Set("resourceCount", int64_t{3});
  want.Set("resourceSummary", st.resources.Summarize().ToValue());
  want.Set("conditions", conditions);
  ResourceFilter all;
  EXPECT_EQ(text(&all), resource::ToJson(want));
  // A filter: its rows, and how many matched.
  ResourceFilter out_of_sync{.sync = "OutOfSync"};
  auto v = resource::ParseJson(text(&out_of_sync));
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->Find("resources")->size(), 1u);
  EXPECT_EQ(v->Find("resources")->as_array()[0].GetString("name"), "f1");
  EXPECT_EQ(v->Find("resourcesMatched")->as_int(), 1);
  EXPECT_EQ(v->Find("resourceCount")->as_int(), 3);
  // No filter: no rows, the rest as with them.
  auto bare = resource::ParseJson(text(nullptr));
  ASSERT_TRUE(bare.ok());
  want.Erase("resources");
  EXPECT_EQ(resource::ToJson(*bare), resource::ToJson(want));
}

TEST_F(StoreTest, HistoryChangesWrittenInPiecesReadBackAsTheList) {
  ASSERT_TRUE(store_->PutApp(AppSpec{.name = "app", .repo = "r"}).ok());
  HistoryRow row{.app = "app", .revision = "abc", .result = "Running"};
  auto id = store_->AddHistory(row);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  row.id = *id;
  row.result = "Succeeded";
  std::string want = "[";
  for (int i = 0; i < 3000; ++i)
    want += std::string(i ? "," : "") + R"({"kind":"File","name":"f)" + std::to_string(i) +
            R"(","change":"created"})";
  want += "]";
  row.write_changes = [&want](const std::function<Status(std::string_view)>& sink) -> Status {
    for (size_t at = 0; at < want.size(); at += 1000)
      RETURN_IF_ERROR(sink(std::string_view(want).substr(at, 1000)));
    return Status::Ok();
  };
  ASSERT_TRUE(store_->UpdateHistory(row).ok());
  Reopen();
  auto got = store_->GetHistory("app", *id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->result, "Succeeded");
  EXPECT_EQ(resource::ToJson(got->changes), want);
  // Given without an id, the same text is recorded as a new row.
  row.id = 0;
  auto added = store_->AddHistory(row);
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(resource::ToJson(store_->GetHistory("app", *added)->changes), want);
}

TEST_F(StoreTest, HistoryChangesGivenAsTextReadBackAsTheList) {
  ASSERT_TRUE(store_->PutApp(AppSpec{.name = "app", .repo = "r"}).ok());
  HistoryRow row{.app = "app", .revision = "abc", .result = "Succeeded"};
  row.changes_json = R"([{"kind":"File","name":"a","change":"created"}])";
  auto id = store_->AddHistory(row);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto got = store_->GetHistory("app", *id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(resource::ToJson(got->changes), row.changes_json);
  EXPECT_TRUE(got->changes_json.empty());
  row.id = *id;
  row.changes_json = "[]";
  ASSERT_TRUE(store_->UpdateHistory(row).ok());
  EXPECT_EQ(resource::ToJson(store_->GetHistory("app", *id)->changes), "[]");
}

TEST_F(StoreTest, AChangeListTooLargeToKeepStillFinishesTheRow) {
  ASSERT_TRUE(store_->PutApp(AppSpec{.name = "app", .repo = "r"}).ok());
  HistoryRow row{.app = "app", .revision = "abc", .result = "Running"};
  auto id = store_->AddHistory(row);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  store_->SetMaxValueBytes(4096);  // as SQLite's 1 GB is to tens of millions of changes
  row.id = *id;
  row.result = "Succeeded";
  row.finished_ms = 7;
  row.message = "applied";
  row.changes_json = "[" + std::string(8000, ' ') + "]";
  ASSERT_TRUE(store_->UpdateHistory(row).ok());
  auto got = store_->GetHistory("app", *id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->result, "Succeeded");
  EXPECT_EQ(got->finished_ms, 7);
  EXPECT_EQ(resource::ToJson(got->changes), "[]");
  EXPECT_EQ(got->message,
            "applied; the change list (8002 bytes of JSON) is too large to keep and is left out");
}

TEST_F(StoreTest, AListLargerThanTheInputLimitReadsBack) {
  // 17 MiB of rows: a sync of over 100,000 resources; ParseLimits' default is 16 MiB.
  std::vector<ResourceStatus> rows(120000);
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].id = {"local.plumbline.dev", "File", "", "file-" + std::to_string(i)};
    rows[i].origin = "resources/group-" + std::to_string(i / 100) +
                     "/part.yaml:" + std::to_string(i % 100 * 10 + 1);
  }
  AppStatus s;
  s.resources = ResourceStatusList(std::move(rows));
  ASSERT_GT(s.resources.ToJson().size(), size_t{16} << 20);
  ASSERT_TRUE(store_->PutStatus("web", s).ok());
  Reopen();
  EXPECT_EQ(Stored().resources.rows(), s.resources.rows());
}

TEST(SyncReportTest, ChangesGivenAsTextShowAsTheList) {
  SyncReport report{.app = "app", .result = "Succeeded"};
  report.changes_json = R"([{"kind":"File","name":"a","change":"created"}])";
  EXPECT_EQ(resource::ToJson(*report.ToValue().Find("changes")), report.changes_json);
  EXPECT_EQ(resource::ToJson(*SyncReport{}.ToValue().Find("changes")), "[]");
}

}  // namespace
}  // namespace plumb::engine
