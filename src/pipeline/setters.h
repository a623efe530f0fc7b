// pipeline (internal): Flux's image setters. A YAML scalar followed on its line by the
// comment `# {"$imagepolicy": "REF"}` takes its value from the ImagePolicy REF names:
//   NAME or NAMESPACE:NAME        -> the whole reference, "IMAGE:TAG"
//   NAME:tag or NAMESPACE:NAME:tag -> the tag only
//   NAME:name or NAMESPACE:NAME:name -> the image only
// Only those scalars' bytes change; every other byte of the file (comments, quoting,
// indentation, line ends) stays as it was. Pure text processing: no I/O.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace plumb::pipeline {

struct SetterRef {
  std::string ns;  // "" when the marker names no namespace
  std::string name;
  enum class Field { kImage, kTag, kName } field = Field::kImage;
};

// Parses a comment's text (after '#') as a setter marker; nullopt when it is not one.
std::optional<SetterRef> ParseSetterComment(std::string_view comment);

// What a policy currently selects.
struct PolicyImage {
  std::string image;  // spec.image of its ImageRepository, e.g. "ghcr.io/org/app"
  std::string tag;
};

struct SetterEdit {
  int line = 0;  // 1-based
  std::string policy;
  std::string old_value, new_value;
};

struct SetterResult {
  std::string text;                           // the rewritten file (== input when nothing changed)
  std::vector<SetterEdit> edits;              // values that changed
  std::vector<std::string> unknown_policies;  // markers naming a policy `lookup` lacks
};

// Rewrites every marked scalar of `text` whose policy `lookup` knows (lookup returns
// null for an unknown policy). Markers inside block scalars (| and >) are text, not
// markers, and are left alone.
SetterResult ApplySetters(std::string_view text,
                          const std::function<const PolicyImage*(const std::string& ns,
                                                                 const std::string& name)>& lookup);

}  // namespace plumb::pipeline
