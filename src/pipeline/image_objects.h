// pipeline (internal): the image-automation kinds read from their manifests, with Flux's
// field names (image.toolkit.fluxcd.io v1beta2) under plumbline.dev/v1. Errors are
// InvalidArgument led by the manifest's file:line.
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "pipeline/policy.h"
#include "resource/resource.h"

namespace plumb::pipeline {

struct ImageRepositorySpec {
  std::string ns, name;
  std::string image;                    // spec.image
  Duration interval = Duration(60000);  // spec.interval (Flux requires it; 1m here)
  Duration timeout = Duration(30000);   // spec.timeout
  bool insecure = false;                // spec.insecure: plain HTTP
  std::string secret_ref;               // spec.secretRef.name: a Secret in the same Application
  std::string cert_secret_ref;          // spec.certSecretRef.name: ca.crt for HTTPS
  bool suspend = false;
};

struct ImagePolicyObject {
  std::string ns, name;
  std::string repository_ns, repository;  // spec.imageRepositoryRef
  PolicySpec policy;
};

struct ImageUpdateAutomationSpec {
  std::string ns, name;
  Duration interval = Duration(60000);
  std::string checkout_branch;            // spec.git.checkout.ref.branch ("" = the Application's)
  std::string push_branch;                // spec.git.push.branch ("" = the checkout branch)
  std::string author_name, author_email;  // spec.git.commit.author
  std::string message_template;           // spec.git.commit.messageTemplate
  std::string signing_key_secret;         // spec.git.commit.signingKey.secretRef.name
  std::string path = ".";                 // spec.update.path
  bool suspend = false;
};

Result<ImageRepositorySpec> ImageRepositoryFromResource(const resource::Resource& r);
Result<ImagePolicyObject> ImagePolicyFromResource(const resource::Resource& r);
Result<ImageUpdateAutomationSpec> ImageUpdateAutomationFromResource(const resource::Resource& r);

// One value that changed in a commit, for the message.
struct ImageChange {
  std::string file;
  int line = 0;
  std::string policy;
  std::string old_value, new_value;
};

// The commit message from Flux's messageTemplate, for the template subset plumbline reads:
// {{ .AutomationObject }} ("NAMESPACE/NAME"), and range blocks over .Changed.Changes
// (each with .OldValue .NewValue .Setter .File) or .Updated.Images (each printed as
// IMAGE:TAG by {{ . }} or {{ println . }}). An empty template gives Flux's default
// subject with one line per change.
std::string RenderCommitMessage(const std::string& tmpl, const std::string& automation,
                                const std::vector<ImageChange>& changes);

}  // namespace plumb::pipeline
