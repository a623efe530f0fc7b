// target/kubernetes (tests only): the field-level pieces of the API-server test double —
// field paths of an object, their managedFields (FieldsV1) form, JSON merge patch and
// label selectors. Pure functions.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "resource/value.h"

namespace plumb::target::kubernetes::testing {

using FieldPath = std::vector<std::string>;

// The leaf fields of an applied object (scalars, lists and empty maps are leaves), minus
// the identity (apiVersion, kind, metadata.name/namespace) and status.
std::set<FieldPath> AppliedFields(const resource::Value& obj);
const resource::Value* GetField(const resource::Value& v, const FieldPath& p);
void SetField(resource::Value* v, const FieldPath& p, resource::Value leaf);
// Removes the field and the maps it leaves empty.
void EraseField(resource::Value* v, const FieldPath& p);
std::string FieldString(const FieldPath& p);  // ".spec.replicas"
resource::Value FieldsV1(const std::set<FieldPath>& fields);
// RFC 7386.
resource::Value MergePatch(resource::Value target, const resource::Value& patch);
// The leaves whose value differs between two objects (both ways).
std::set<FieldPath> ChangedFields(const resource::Value& before, const resource::Value& after);
// Kubernetes equality-based selectors: "a=b,c!=d,e,!f" (already percent-decoded).
bool MatchesSelector(const resource::Value* labels, const std::string& selector);

}  // namespace plumb::target::kubernetes::testing
