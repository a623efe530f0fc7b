// `plumb seal` and `plumb reseal`.
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <functional>
#include <iostream>
#include <iterator>
#include <optional>

#include "cli/keys.h"
#include "core/fs.h"
#include "core/strings.h"
#include "resource/codec.h"
#include "secrets/keystore.h"
#include "secrets/sealed_secret.h"

namespace plumb::cli {
namespace {

using resource::Value;

int Fail(const std::string& verb, const Status& s) {
  std::cerr << "plumb " << verb << ": " << s.message() << "\n";
  return 2;
}

// The public certificate: --cert FILE, else GET /api/v1/keys/public.pem from the operator.
Result<secrets::PublicKey> LoadPublicKey(const SealOptions& o) {
  std::string pem;
  if (!o.cert_file.empty()) {
    auto read = fs::ReadFile(o.cert_file);
    if (!read.ok()) return read.status();
    pem = std::move(*read);
  } else {
    ClientOptions c = o.client;
    ResolveClient(&c);
    ApiClient api(c);
    Status s = api.StreamText("/api/v1/keys/public.pem", false, [&](const char* d, size_t n) {
      pem.append(d, n);
      return true;
    });
    if (!s.ok())
      return s.WithContext("fetching the certificate from " + c.server +
                           " (or pass --cert FILE, from plumb keys export-public)");
  }
  auto key = secrets::PublicKey::FromPem(pem);
  if (!key.ok())
    return key.status().WithContext(o.cert_file.empty() ? "the operator's certificate"
                                                        : o.cert_file);
  return key;
}

bool ValidKey(const std::string& k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  return true;
}

Result<Value> SecretFromFlags(const SealOptions& o) {
  Value data = Value::EmptyObject();
  for (const std::string& lit : o.from_literal) {
    size_t eq = lit.find('=');
    std::string key = lit.substr(0, eq);
    if (eq == std::string::npos || !ValidKey(key))
      return InvalidArgument("--from-literal " + key +
                             ": expected KEY=VALUE, KEY of letters, digits, '-', '_', '.'");
    data.Set(key, Base64Encode(lit.substr(eq + 1)));
  }
  for (const std::string& spec : o.from_file) {
    size_t eq = spec.find('=');
    std::string key = eq == std::string::npos ? fs::Basename(spec) : spec.substr(0, eq);
    std::string path = eq == std::string::npos ? spec : spec.substr(eq + 1);
    if (!ValidKey(key))
      return InvalidArgument("--from-file " + spec + ": the key \"" + key +
                             "\" is not letters, digits, '-', '_', '.'; use --from-file KEY=PATH");
    auto content = fs::ReadFile(path);
    if (!content.ok()) return content.status().WithContext("--from-file");
    data.Set(key, Base64Encode(*content));
  }
  Value secret = Value::EmptyObject();
  secret.Set("apiVersion", "v1");
  secret.Set("kind", "Secret");
  Value& meta = secret.Set("metadata", Value::EmptyObject());
  meta.Set("name", o.name);
  if (!o.ns.empty()) meta.Set("namespace", o.ns);
  secret.Set("type", "Opaque");
  secret.Set("data", std::move(data));
  return secret;
}

Result<Value> SecretFromStdin(const SealOptions& o) {
  if (isatty(0)) std::cerr << "(reading a Secret manifest from stdin; end with Ctrl-D)\n";
  std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  ASSIGN_OR_RETURN(auto docs, resource::ParseYaml(text, "<stdin>"));
  if (docs.size() != 1)
    return InvalidArgument("<stdin> holds " + std::to_string(docs.size()) +
                           " documents: give one Secret manifest (or use --from-literal / "
                           "--from-file)");
  Value secret = std::move(docs[0].value);
  if (secret.is_object() && (!o.name.empty() || !o.ns.empty())) {
    Value* meta = secret.Find("metadata");
    if (meta == nullptr || !meta->is_object()) meta = &secret.Set("metadata", Value::EmptyObject());
    if (!o.name.empty()) meta->Set("name", o.name);
    if (!o.ns.empty()) meta->Set("namespace", o.ns);
  }
  return secret;
}

// Splits a YAML stream into chunks at document markers ("---" at column 0), each chunk
// with its marker line.
std::vector<std::string> SplitDocuments(const std::string& text) {
  std::vector<std::string> chunks(1);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    end = end == std::string::npos ? text.size() : end + 1;
    std::string_view line(text.data() + pos, end - pos);
    bool marker = StartsWith(line, "---") &&
                  (line.size() == 3 || line[3] == '\n' || line[3] == ' ' || line[3] == '\r');
    if (marker && !Trim(chunks.back()).empty()) chunks.emplace_back();
    chunks.back().append(line);
    pos = end;
  }
  return chunks;
}

// Leading marker, comment and blank lines of a chunk: kept when the document is rewritten.
std::string ChunkPrefix(const std::string& chunk) {
  size_t pos = 0;
  while (pos < chunk.size()) {
    size_t end = chunk.find('\n', pos);
    end = end == std::string::npos ? chunk.size() : end + 1;
    std::string line = Trim(std::string_view(chunk).substr(pos, end - pos));
    if (!line.empty() && line[0] != '#' && !StartsWith(line, "---")) break;
    pos = end;
  }
  return chunk.substr(0, pos);
}

// Applies `fn` to every SealedSecret of `text` (a YAML stream named `name`); other documents
// are kept byte for byte. Sets *count to how many were rewritten.
Result<std::string> RewriteSealed(const std::string& text, const std::string& name,
                                  const std::function<Result<Value>(const Value&)>& fn,
                                  int* count) {
  *count = 0;
  ASSIGN_OR_RETURN(auto all, resource::ParseYaml(text, name));
  std::vector<std::string> chunks = SplitDocuments(text);
  std::string out;
  bool chunks_ok = true;
  std::vector<std::pair<std::string, std::optional<Value>>> parts;
  for (const std::string& chunk : chunks) {
    auto docs = resource::ParseYaml(chunk, name);
    if (!docs.ok() || docs->size() > 1) {
      chunks_ok = false;
      break;
    }
    if (docs->size() == 1 && secrets::IsSealedSecret((*docs)[0].value))
      parts.emplace_back(chunk, std::move((*docs)[0].value));
    else
      parts.emplace_back(chunk, std::nullopt);
  }
  if (!chunks_ok) {  // markers inside strings: emit every document again
    parts.clear();
    for (auto& d : all) parts.emplace_back("---\n" + resource::ToYaml(d.value), std::move(d.value));
  }
  for (auto& [chunk, value] : parts) {
    if (!value || !secrets::IsSealedSecret(*value)) {
      out += chunk;
      continue;
    }
    ASSIGN_OR_RETURN(Value next, fn(*value));
    (*count)++;
    std::string prefix = chunks_ok ? ChunkPrefix(chunk) : "---\n";
    if (!out.empty() && out.back() != '\n') out += "\n";
    out += prefix + resource::ToYaml(next);
  }
  return out;
}

// Writes `text` over `path` atomically, keeping its mode; durable once SyncFilesystem runs.
Status Rewrite(const std::string& path, const std::string& text) {
  struct stat st;
  int mode = ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : 0644;
  return fs::WriteFileAtomic(path, text, mode);
}

int MergeInto(const SealOptions& o, const Value& secret, const secrets::PublicKey& key) {
  auto text = fs::ReadFile(o.merge_into);
  if (!text.ok()) return Fail("seal --merge-into", text.status());
  int count = 0;
  auto merged = RewriteSealed(
      *text, o.merge_into,
      [&](const Value& sealed) { return secrets::MergeIntoSealed(sealed, secret, key); }, &count);
  if (!merged.ok()) return Fail("seal --merge-into", merged.status().WithContext(o.merge_into));
  if (count != 1)
    return Fail("seal --merge-into",
                InvalidArgument(o.merge_into + " holds " + std::to_string(count) +
                                " SealedSecrets: --merge-into needs a file with exactly one"));
  Status s = Rewrite(o.merge_into, *merged);
  if (s.ok()) s = fs::SyncFilesystem(o.merge_into);
  if (!s.ok()) return Fail("seal --merge-into", s);
  std::cerr << "merged the Secret's keys into " << o.merge_into << "\n";
  return 0;
}

}  // namespace

int CmdSeal(const SealOptions& o) {
  auto scope = secrets::ParseScope(o.scope);
  if (!scope.ok()) return Fail("seal --scope", scope.status());
  if (!o.cert_file.empty() && !o.client.server.empty())
    return Fail("seal", InvalidArgument("give --cert FILE or --operator URL, not both"));
  bool from_flags = !o.from_literal.empty() || !o.from_file.empty();
  if (from_flags && o.name.empty() && o.merge_into.empty())
    return Fail("seal", InvalidArgument("--from-literal/--from-file need --name NAME (and "
                                        "--namespace NS, default \"default\")"));
  SealOptions flags = o;
  if (flags.name.empty()) flags.name = "merged";  // --merge-into takes the sealed file's name
  auto secret = from_flags ? SecretFromFlags(flags) : SecretFromStdin(o);
  if (!secret.ok()) return Fail("seal", secret.status());
  auto key = LoadPublicKey(o);
  if (!key.ok()) return Fail("seal", key.status());
  if (!o.merge_into.empty()) return MergeInto(o, *secret, *key);
  auto sealed = secrets::SealSecret(*secret, *key, *scope);
  if (!sealed.ok()) return Fail("seal", sealed.status());
  if (o.output == "json")
    std::cout << resource::ToJson(*sealed, 2) << "\n";
  else
    std::cout << "---\n" << resource::ToYaml(*sealed);
  return 0;
}

int CmdReseal(const std::string& state_dir, const std::vector<std::string>& files) {
  std::string dir = fs::JoinPath(state_dir.empty() ? DefaultStateDir() : state_dir, "keys");
  if (!fs::IsDirectory(dir)) return Fail("reseal", NoKeysHere(dir));
  auto store = secrets::KeyStore::Open(dir);
  if (!store.ok()) return Fail("reseal", store.status());
  auto set = (*store)->Current();
  if (set->sealing.empty()) return Fail("reseal", NoKeysHere(dir));
  const secrets::PublicKey newest = set->sealing.front().public_key();
  int code = 0;
  for (const std::string& file : files) {
    auto text = fs::ReadFile(file);
    if (!text.ok()) {
      code = Fail("reseal", text.status());
      continue;
    }
    int count = 0;
    auto out = RewriteSealed(
        *text, file,
        [&](const Value& sealed) {
          return secrets::ResealSealedSecret(sealed, set->sealing, newest);
        },
        &count);
    Status s = out.ok() ? Status::Ok() : out.status().WithContext(file);
    if (s.ok() && count > 0) s = Rewrite(file, *out);
    if (s.ok() && count > 0) s = fs::SyncFilesystem(file);
    if (!s.ok()) {
      code = Fail("reseal", s);
      continue;
    }
    std::cerr << file << ": " << count << " SealedSecret(s) resealed to "
              << set->sealing_info.front().id << "\n";
  }
  return code;
}

}  // namespace plumb::cli
