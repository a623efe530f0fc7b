#include "core/status.h"

#include <cstdio>
#include <cstdlib>

namespace plumb {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kNotFound:
      return "NotFound";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kFailedPrecondition:
      return "FailedPrecondition";
    case Code::kPermissionDenied:
      return "PermissionDenied";
    case Code::kUnauthenticated:
      return "Unauthenticated";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kDeadlineExceeded:
      return "DeadlineExceeded";
    case Code::kAborted:
      return "Aborted";
    case Code::kInternal:
      return "Internal";
    case Code::kUnimplemented:
      return "Unimplemented";
  }
  return "Unknown";
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

void PanicBadResultAccess(const Status& s) {
  std::fprintf(stderr, "plumb: bug: value() of an error Result: %s\n", s.ToString().c_str());
  std::abort();
}

void PanicOkStatusAsError() {
  std::fprintf(stderr, "plumb: bug: Result built from an OK Status\n");
  std::abort();
}

}  // namespace plumb
