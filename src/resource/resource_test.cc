#include "resource/resource.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/strings.h"
#include "resource/codec.h"

namespace plumb::resource {
namespace {

Value Yaml(const std::string& text) {
  auto docs = ParseYaml(text, "t.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  return docs.ok() && !docs->empty() ? (*docs)[0].value : Value();
}

std::string FromValueError(const std::string& yaml) {
  auto r = Resource::FromValue(Yaml(yaml), Origin{.file = "apps/a.yaml", .line = 3});
  return r.ok() ? "<ok>" : r.status().message();
}

TEST(ResourceIdTest, KeyRoundTrips) {
  ResourceId id{.group = "apps", .kind = "Deployment", .ns = "web", .name = "front"};
  EXPECT_EQ(id.Key(), "apps/Deployment/web/front");
  EXPECT_EQ(ResourceId::FromKey(id.Key()).value(), id);
  ResourceId core{.kind = "ConfigMap", .name = "a/b"};
  EXPECT_EQ(core.Key(), "/ConfigMap//a/b");
  EXPECT_EQ(ResourceId::FromKey(core.Key()).value(), core);
  EXPECT_FALSE(ResourceId::FromKey("Deployment/x").ok());
  EXPECT_FALSE(ResourceId::FromKey("g//ns/x").ok());
}

TEST(ResourceIdTest, ToStringAndHash) {
  EXPECT_EQ((ResourceId{.group = "local.plumbline.dev", .kind = "File", .name = "motd"}).ToString(),
            "File/motd");
  EXPECT_EQ((ResourceId{.kind = "ConfigMap", .ns = "web", .name = "settings"}).ToString(),
            "ConfigMap/web/settings");
  EXPECT_EQ((ResourceId{.group = "apps", .kind = "Deployment", .ns = "ns", .name = "x"}).ToString(),
            "apps/Deployment/ns/x");
  ResourceIdHash h;
  ResourceId a{.kind = "A", .ns = "b", .name = "c"};
  ResourceId b{.kind = "A", .ns = "", .name = "bc"};
  EXPECT_EQ(h(a), h(ResourceId(a)));
  EXPECT_NE(h(a), h(b));
}

TEST(ResourceTest, SplitApiVersion) {
  std::string g, v;
  SplitApiVersion("v1", &g, &v);
  EXPECT_EQ(g, "");
  EXPECT_EQ(v, "v1");
  SplitApiVersion("local.plumbline.dev/v1", &g, &v);
  EXPECT_EQ(g, "local.plumbline.dev");
  EXPECT_EQ(v, "v1");
}

TEST(ResourceTest, FromValueBuildsIdentity) {
  auto r =
      Resource::FromValue(Yaml("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"),
                          Origin{.file = "a.yaml", .line = 1}, "default");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->id(),
            (ResourceId{.group = "apps", .kind = "Deployment", .ns = "default", .name = "web"}));
  EXPECT_EQ(r->api_version(), "apps/v1");
  EXPECT_EQ(r->origin().ToString(), "a.yaml:1");
  auto ns = Resource::FromValue(
      Yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: prod}\n"), {}, "dflt");
  ASSERT_TRUE(ns.ok());
  EXPECT_EQ(ns->id().ns, "prod");
  EXPECT_EQ(ns->id().group, "");
}

TEST(ResourceTest, FromValueErrorsNameFileAndLine) {
  EXPECT_EQ(FromValueError("apiVersion: v1\nkind: A\n"), "apps/a.yaml:3: metadata.name is missing");
  EXPECT_EQ(FromValueError("apiVersion: v1\nkind: A\nmetadata: {}\n"),
            "apps/a.yaml:3: metadata.name is missing");
  EXPECT_EQ(FromValueError("apiVersion: v1\nkind: A\nmetadata: {name: \"\"}\n"),
            "apps/a.yaml:3: metadata.name must not be empty");
  EXPECT_EQ(FromValueError("apiVersion: v1\nkind: A\nmetadata: {name: 5}\n"),
            "apps/a.yaml:3: metadata.name must be a string, not a integer");
  EXPECT_EQ(FromValueError("apiVersion: v1\nkind: A\nmetadata: [1]\n"),
            "apps/a.yaml:3: metadata must be a map, not a list");
  EXPECT_EQ(FromValueError("apiVersion: v1\nmetadata: {name: x}\n"),
            "apps/a.yaml:3: kind is missing");
  EXPECT_EQ(FromValueError("apiVersion: v1\nkind: yes\nmetadata: {name: x}\n"),
            "apps/a.yaml:3: kind must be a string, not a bool");
  EXPECT_EQ(FromValueError("kind: A\nmetadata: {name: x}\n"),
            "apps/a.yaml:3: apiVersion is missing");
  EXPECT_EQ(FromValueError("- 1\n"), "apps/a.yaml:3: a resource must be a map, not a list");
  EXPECT_EQ(FromValueError("apiVersion: v1\nkind: A\nmetadata: {name: x, namespace: [1]}\n"),
            "apps/a.yaml:3: metadata.namespace must be a string, not a list");
  EXPECT_EQ(FromValueError("apiVersion: a/b/v1\nkind: A\nmetadata: {name: x}\n"),
            "apps/a.yaml:3: apiVersion must be \"version\" or \"group/version\"");
  EXPECT_EQ(FromValueError("apiVersion: v1\nkind: A/B\nmetadata: {name: x}\n"),
            "apps/a.yaml:3: kind must not contain '/'");
  EXPECT_EQ(FromValueError("apiVersion: v1\nkind: A\nmetadata: {name: x, namespace: a/b}\n"),
            "apps/a.yaml:3: metadata.namespace must not contain '/'");
}

TEST(ResourceTest, AnnotationsLabelsAndSyncWave) {
  auto wave = [](const std::string& annotation) {
    auto r = Resource::FromValue(
        Yaml("apiVersion: v1\nkind: A\nmetadata:\n  name: x\n  labels: {app: web}\n"
             "  annotations: {plumbline.dev/sync-wave: " +
             annotation + "}\n"),
        {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->SyncWave() : -999;
  };
  EXPECT_EQ(wave("\"3\""), 3);
  EXPECT_EQ(wave("\"-2\""), -2);
  EXPECT_EQ(wave("\"+4\""), 4);
  EXPECT_EQ(wave("\"x\""), 0);
  EXPECT_EQ(wave("\"1.5\""), 0);
  EXPECT_EQ(wave("\"99999999999\""), 0);
  EXPECT_EQ(wave("5"), 0);  // an integer, not a string: Kubernetes rejects it too
  auto r = Resource::FromValue(
      Yaml("apiVersion: v1\nkind: A\nmetadata:\n  name: x\n  labels: {app: web}\n"), {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Label("app"), "web");
  EXPECT_EQ(r->Label("nope", "fb"), "fb");
  EXPECT_EQ(r->Annotation("a", "fb"), "fb");
  EXPECT_EQ(r->SyncWave(), 0);
}

TEST(CanonicalTest, StableAcrossKeyOrderAndNumberForm) {
  Value a = Yaml("b: {y: 1, x: [1, 2.5, 0.1]}\na: \"s\"\nc: null\n");
  Value b = Yaml("a: s\nc: ~\nb:\n  x: [1.0, 2.5, 0.1]\n  y: 1\n");
  EXPECT_EQ(CanonicalJson(a), R"({"a":"s","b":{"x":[1,2.5,0.1],"y":1},"c":null})");
  EXPECT_EQ(CanonicalJson(a), CanonicalJson(b));
  EXPECT_EQ(CanonicalHash(a), CanonicalHash(b));
  EXPECT_EQ(CanonicalHash(a).size(), 64u);
  EXPECT_NE(CanonicalHash(a), CanonicalHash(Yaml("a: s\n")));
  EXPECT_EQ(CanonicalJson(Value(1e300)), "1e+300");
  // A known value, so the hash never changes between releases by accident.
  EXPECT_EQ(CanonicalHash(Value::EmptyObject()),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
}

// ToJsonAndCanonicalJson gives what ToJson and CanonicalJson give, whatever the value.
void ExpectBothLikeEachAlone(const Value& v) {
  std::string json = "stale", canonical = "stale";
  ToJsonAndCanonicalJson(v, &json, &canonical);
  EXPECT_EQ(json, ToJson(v));
  EXPECT_EQ(canonical, CanonicalJson(v));
}

TEST(CanonicalTest, JsonAndCanonicalInOneWalkEqualEachAlone) {
  ExpectBothLikeEachAlone(Value());
  ExpectBothLikeEachAlone(Value(true));
  ExpectBothLikeEachAlone(Value(int64_t{-42}));
  ExpectBothLikeEachAlone(Value(2.0));  // ToJson keeps "2.0"; canonical says 2
  ExpectBothLikeEachAlone(Value(1e300));
  ExpectBothLikeEachAlone(Value(std::nan("")));
  ExpectBothLikeEachAlone(Value::EmptyObject());
  ExpectBothLikeEachAlone(Yaml("a: []\nb: {}\n"));
  // Escapes, control characters, UTF-8 (valid and not), long runs across the 8-byte scan.
  std::string tricky = "quote \" backslash \\ tab \t nl \n cr \r bell \x07 nul ";
  tricky += '\0';
  tricky += " del \x7f é ü € 😀 bad \xff\xfe cut \xe2\x82 end";
  tricky += std::string(37, 'x') + "\"" + std::string(16, 'y') + "\x1f" + std::string(9, 'z');
  ExpectBothLikeEachAlone(Value(tricky));
  // Keys out of order at several depths, keys needing escapes, keys sharing prefixes,
  // arrays of objects, doubles in both forms.
  Value nested = Value::EmptyObject();
  nested.Set("zeta", Value(tricky));
  nested.Set("alpha\"q", Value(1.5));
  nested.Set("al", Value(int64_t{7}));
  nested.Set("é", Value(false));
  nested.Set("\x01ctl", Value());
  Value inner = Value::EmptyObject();
  inner.Set("path", Value("/srv/a"));
  inner.Set("content", Value(tricky));
  inner.Set("mode", Value("0644"));
  Value sorted = Value::EmptyObject();
  sorted.Set("a", inner);
  sorted.Set("b", Value(3.0));
  sorted.Set("c", inner);
  Value list;
  list.Append(inner);
  list.Append(sorted);
  list.Append(Value(0.1));
  list.Append(Value::EmptyObject());
  nested.Set("middle", list);
  nested.Set("b", sorted);
  ExpectBothLikeEachAlone(nested);
  ExpectBothLikeEachAlone(
      Yaml("kind: File\napiVersion: v1\nmetadata: {namespace: n, name: a, "
           "labels: {z: \"1\", a: \"2\"}}\nspec: {path: p, content: \"c\\n\"}\n"));
  // Every ASCII byte, in and out of 8-byte words.
  std::string all;
  for (int c = 0; c < 128; ++c) all += static_cast<char>(c);
  for (size_t off = 0; off < 9; ++off) ExpectBothLikeEachAlone(Value(all.substr(off)));
}

TEST(CanonicalTest, JsonQuoteScansWordsLikeBytes) {
  // Each byte that needs an escape, at each position of an 8-byte word.
  for (const char* special : {"\"", "\\", "\n", "\x01", "\x1f", "\x7f", "\xc3\xa9", "\x80"}) {
    for (size_t at = 0; at < 17; ++at) {
      std::string s = std::string(at, 'a') + special + std::string(17 - at, 'b');
      std::string want = "\"" + std::string(at, 'a');
      const std::string sp = special;
      if (sp == "\"")
        want += "\\\"";
      else if (sp == "\\")
        want += "\\\\";
      else if (sp == "\n")
        want += "\\n";
      else if (sp == "\x01")
        want += "\\u0001";
      else if (sp == "\x1f")
        want += "\\u001f";
      else if (sp == "\x80")
        want += "\xEF\xBF\xBD";
      else
        want += sp;  // DEL and valid UTF-8 are copied
      want += std::string(17 - at, 'b') + "\"";
      EXPECT_EQ(JsonQuote(s), want) << at << " " << static_cast<int>(sp[0]);
    }
  }
}

TEST(SecretTest, MaskingHidesEveryValue) {
  Value body = Yaml(
      "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
      "data: {a: c2VjcmV0, b: b3RoZXI=}\nstringData: {c: plain}\ntype: Opaque\n");
  ResourceId id{.kind = "Secret", .ns = "default", .name = "s"};
  EXPECT_TRUE(IsSecret(id));
  EXPECT_TRUE(IsSecret(ResourceId{.group = "local.plumbline.dev", .kind = "Secret"}));
  EXPECT_FALSE(IsSecret(ResourceId{.kind = "ConfigMap"}));
  Value masked = MaskSecretValues(id, body);
  EXPECT_EQ(masked.FindPath({"data", "a"})->as_string(), kMaskedValue);
  EXPECT_EQ(masked.FindPath({"data", "b"})->as_string(), kMaskedValue);
  EXPECT_EQ(masked.FindPath({"stringData", "c"})->as_string(), kMaskedValue);
  EXPECT_EQ(masked.GetString("type"), "Opaque");
  EXPECT_EQ(body.FindPath({"data", "a"})->as_string(), "c2VjcmV0");  // a copy
  EXPECT_EQ(ToJson(masked).find("c2VjcmV0"), std::string::npos);
  Value odd = Yaml("kind: Secret\ndata: not-a-map\n");
  EXPECT_EQ(MaskSecretValues(id, odd).GetString("data"), kMaskedValue);
  EXPECT_EQ(MaskSecretValues(ResourceId{.kind = "ConfigMap"}, body), body);
}

TEST(SecretTest, ValuesDecodeDataAndLetStringDataWin) {
  Value body = Yaml("kind: Secret\ndata: {a: c2VjcmV0, c: aWdub3JlZA==}\nstringData: {c: plain}\n");
  auto values = SecretValues(body);
  ASSERT_TRUE(values.ok()) << values.status().ToString();
  EXPECT_EQ(*values, (std::map<std::string, std::string>{{"a", "secret"}, {"c", "plain"}}));
  EXPECT_EQ(*SecretValue(body, "a"), "secret");
  EXPECT_EQ(*SecretValue(body, "c"), "plain");
  EXPECT_EQ(SecretValue(body, "zz").status().code(), Code::kNotFound);
  Value bad = Yaml("kind: Secret\ndata: {k: 'not base64!'}\n");
  EXPECT_EQ(SecretValue(bad, "k").status().code(), Code::kInvalidArgument);
  ASSERT_FALSE(SecretValues(bad).ok());
  EXPECT_EQ(SecretValues(bad).status().message().find("not base64!"), std::string::npos);
}

}  // namespace
}  // namespace plumb::resource
