// `plumb keys init|rotate|list|export-public|backup|restore|age-init`.
#include "cli/keys.h"

#include <algorithm>
#include <ctime>
#include <iostream>
#include <iterator>

#include "core/clock.h"
#include "core/fs.h"
#include "core/log.h"
#include "resource/codec.h"
#include "secrets/age.h"
#include "secrets/keystore.h"

namespace plumb::cli {
namespace {

using resource::Value;

int Fail(const std::string& verb, const Status& s) {
  std::cerr << "plumb keys " << verb << ": " << s.message() << "\n";
  return 2;
}

std::string KeysDir(const KeysOptions& o) {
  return fs::JoinPath(o.state_dir.empty() ? DefaultStateDir() : o.state_dir, "keys");
}

Value InfoJson(const secrets::KeyInfo& k, bool newest) {
  Value v = Value::EmptyObject();
  v.Set("id", k.id);
  v.Set("created", FormatTimeRfc3339(FromUnixMillis(k.created_unix * 1000)));
  v.Set("createdUnix", k.created_unix);
  v.Set("bits", k.bits);
  v.Set("fingerprint", k.fingerprint);
  v.Set("newest", newest);
  return v;
}

int PrintCreated(const KeysOptions& o, const secrets::KeyInfo& k, const std::string& dir) {
  if (o.output == "json") {
    std::cout << resource::ToJson(InfoJson(k, true), 2) << "\n";
  } else {
    std::cout << "generated sealing key " << k.id << " (RSA-" << k.bits << ") in " << dir
              << "\nSealing uses it from now on; older keys still unseal. A running operator "
                 "takes it at its next start.\nBack the keys up: plumb keys backup -f FILE\n";
  }
  return 0;
}

// The public half of each age identity (what SOPS encrypts to).
std::vector<std::string> AgeRecipients(const secrets::KeySet& set) {
  std::vector<std::string> out;
  for (const std::string& line : set.age_identities) {
    auto id = secrets::AgeIdentity::Parse(line);
    out.push_back(id.ok() ? id->Recipient()
                          : "(unreadable identity: " + id.status().message() + ")");
  }
  return out;
}

int AgeInit(const KeysOptions& o, secrets::KeyStore& store) {
  auto id = secrets::AgeIdentity::Generate();
  if (!id.ok()) return Fail("age-init", id.status());
  Status s = store.AddAgeIdentity(id->ToString());
  if (!s.ok()) return Fail("age-init", s);
  if (o.output == "json") {
    Value v = Value::EmptyObject();
    v.Set("recipient", id->Recipient());
    std::cout << resource::ToJson(v, 2) << "\n";
  } else {
    std::cout << id->Recipient() << "\n";
  }
  std::cerr << "added an age identity to " << store.dir()
            << "; encrypt for the operator with: sops --encrypt --age " << id->Recipient()
            << " FILE\nBack it up with the sealing keys: plumb keys backup -f FILE\n";
  return 0;
}

int List(const KeysOptions& o, const secrets::KeySet& set) {
  if (o.output == "json") {
    Value list = Value::EmptyArray();
    for (size_t i = 0; i < set.sealing_info.size(); i++)
      list.Append(InfoJson(set.sealing_info[i], i == 0));
    Value out = Value::EmptyObject();
    out.Set("items", std::move(list));
    Value recipients = Value::EmptyArray();
    for (const std::string& r : AgeRecipients(set)) recipients.Append(r);
    out.Set("ageRecipients", std::move(recipients));
    std::cout << resource::ToJson(out, 2) << "\n";
    return 0;
  }
  if (set.sealing_info.empty()) {
    std::cout << "no sealing keys yet (plumb keys init or plumb keys export-public makes the "
                 "first; so does the operator when it needs one)\n";
  } else {
    std::vector<std::vector<std::string>> rows = {{"ID", "CREATED", "BITS", "FINGERPRINT", ""}};
    for (size_t i = 0; i < set.sealing_info.size(); i++) {
      const auto& k = set.sealing_info[i];
      rows.push_back({k.id, FormatTimeRfc3339(FromUnixMillis(k.created_unix * 1000)),
                      std::to_string(k.bits), k.fingerprint, i == 0 ? "newest (seals)" : ""});
    }
    PrintTable(rows);
  }
  std::vector<std::string> recipients = AgeRecipients(set);
  if (recipients.empty()) std::cout << "no age identities (plumb keys age-init)\n";
  for (const std::string& r : recipients) std::cout << "age recipient: " << r << "\n";
  return 0;
}

int Backup(const KeysOptions& o, secrets::KeyStore& store) {
  // A state directory whose operator has not needed its key yet gets it now (as
  // export-public does): the backup is what disaster recovery restores.
  if (store.Current()->sealing.empty()) {
    Status made = store.EnsureKey();
    if (!made.ok()) return Fail("backup", made);
  }
  std::string text = store.Backup();
  if (store.Current()->sealing.empty() && store.Current()->age_identities.empty())
    return Fail("backup",
                FailedPrecondition("there are no keys in " + store.dir() + " to back up"));
  if (o.file.empty() || o.file == "-") {
    std::cout << text;
    return 0;
  }
  Status s = fs::WriteFileAtomic(o.file, text, 0600, /*sync=*/true);
  if (!s.ok()) return Fail("backup", s);
  std::cerr << "wrote " << store.Current()->sealing.size() << " sealing key(s) and "
            << store.Current()->age_identities.size() << " age identit(ies) to " << o.file
            << " (mode 0600). Whoever holds it can unseal every secret: keep it offline.\n";
  return 0;
}

int Restore(const KeysOptions& o, secrets::KeyStore& store) {
  if (o.file.empty())
    return Fail("restore", InvalidArgument("give the backup with -f FILE (- for stdin)"));
  std::string text;
  if (o.file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    auto read = fs::ReadFile(o.file);
    if (!read.ok()) return Fail("restore", read.status());
    text = std::move(*read);
  }
  auto before = store.Current();
  Status s = store.Restore(text);
  if (!s.ok()) return Fail("restore", s.WithContext(o.file));
  auto after = store.Current();
  std::cout << "restored " << after->sealing.size() - before->sealing.size()
            << " sealing key(s) and "
            << after->age_identities.size() - before->age_identities.size()
            << " age identit(ies) into " << store.dir() << " (those already there skipped)\n";
  return 0;
}

}  // namespace

void RenewSealingKeyIfDue(secrets::KeyStore& store, Duration period, int bits) {
  if (period.count() <= 0) return;
  // Key ages are whole seconds: a shorter period is one second.
  int64_t seconds =
      std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(period).count());
  auto renewed = store.RenewIfDue(seconds, std::time(nullptr), bits);
  if (!renewed.ok()) {
    log::Error("renewing the sealing key: " + renewed.status().message());
    return;
  }
  if (!*renewed) return;
  const secrets::KeyInfo& k = store.Current()->sealing_info.front();
  log::Info("renewed the sealing key: " + k.id + " seals from now on, older keys still unseal",
            {{"bits", std::to_string(k.bits)}, {"fingerprint", k.fingerprint}});
}

Status NoKeysHere(const std::string& dir) {
  return FailedPrecondition("there are no keys in " + dir +
                            ": give the operator's --state-dir, or make them (plumb keys init)");
}

int CmdKeys(const std::string& verb, const KeysOptions& o) {
  const std::string dir = KeysDir(o);
  bool writes = verb == "init" || verb == "rotate" || verb == "restore" || verb == "age-init";
  if (!writes && !fs::IsDirectory(dir)) return Fail(verb, NoKeysHere(dir));
  auto opened = secrets::KeyStore::Open(dir);
  if (!opened.ok()) return Fail(verb, opened.status());
  secrets::KeyStore& store = **opened;
  if (verb == "init" || verb == "rotate") {
    auto info = verb == "init" ? store.Init(o.bits) : store.Rotate(o.bits);
    if (!info.ok()) return Fail(verb, info.status());
    return PrintCreated(o, *info, dir);
  }
  if (verb == "list") return List(o, *store.Current());
  if (verb == "export-public" || verb == "backup") {
    // An operator makes its first key when something needs it (a plumb run --once that
    // unsealed nothing made none); these verbs hand the key out, so they make it, as a
    // fresh Sealed Secrets controller has one to give. Only in a state directory that
    // exists (checked above): a mistyped --state-dir gets no key.
    store.GenerateWhenNeeded(o.bits, [&dir](const Result<secrets::KeyInfo>& made) {
      if (made.ok())
        std::cerr << "generated sealing key " << made->id << " (RSA-" << made->bits << ") in "
                  << dir << "\n";
    });
  }
  if (verb == "export-public") {
    auto cert = store.CertificatePem();
    if (!cert.ok()) return Fail(verb, cert.status());
    std::cout << *cert;
    return 0;
  }
  if (verb == "backup") return Backup(o, store);
  if (verb == "restore") return Restore(o, store);
  if (verb == "age-init") return AgeInit(o, store);
  return Fail(verb, InvalidArgument("unknown verb"));
}

}  // namespace plumb::cli
