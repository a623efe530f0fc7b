// core: errors as values. Status carries a code, a message and a context chain;
// Result<T> is a T or a non-ok Status. No exception crosses a module boundary.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace plumb {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // bad user input (YAML, spec fields): terminal, not retried
  kNotFound,            // something named does not exist
  kAlreadyExists,       // duplicate identity
  kFailedPrecondition,  // state does not allow the operation (e.g. gate not met)
  kPermissionDenied,    // refused by policy (allow-path, symlink escape, token role)
  kUnauthenticated,     // missing or bad credentials
  kUnavailable,         // transient: network, busy database, peer down; retried with back-off
  kDeadlineExceeded,    // transient: timed out
  kAborted,             // conflict; retried
  kInternal,            // a bug in us or a broken invariant
  kUnimplemented,       // this target/build does not offer the operation
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Transient errors are worth a retry with back-off; the others are terminal
  // until the input changes.
  bool transient() const {
    return code_ == Code::kUnavailable || code_ == Code::kDeadlineExceeded ||
           code_ == Code::kAborted;
  }

  // Returns a copy whose message is "context: message" (the chain reads outermost first).
  Status WithContext(const std::string& context) const;

  // "NotFound: message" (or "OK").
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return Status(Code::kInvalidArgument, std::move(m));
}
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
inline Status FailedPrecondition(std::string m) {
  return Status(Code::kFailedPrecondition, std::move(m));
}
inline Status PermissionDenied(std::string m) {
  return Status(Code::kPermissionDenied, std::move(m));
}
inline Status Unauthenticated(std::string m) {
  return Status(Code::kUnauthenticated, std::move(m));
}
inline Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
inline Status DeadlineExceeded(std::string m) {
  return Status(Code::kDeadlineExceeded, std::move(m));
}
inline Status Aborted(std::string m) { return Status(Code::kAborted, std::move(m)); }
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
inline Status Unimplemented(std::string m) { return Status(Code::kUnimplemented, std::move(m)); }

// A value or an error. Accessing value() of an error is a bug (aborts).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { CheckNotOk(); }  // NOLINT

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<1>(v_);
  }
  T& value() & {
    CheckOk();
    return std::get<0>(v_);
  }
  const T& value() const& {
    CheckOk();
    return std::get<0>(v_);
  }
  T&& value() && {
    CheckOk();
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void CheckOk() const;
  void CheckNotOk() const;
  std::variant<T, Status> v_;
};

[[noreturn]] void PanicBadResultAccess(const Status& s);
[[noreturn]] void PanicOkStatusAsError();

template <typename T>
void Result<T>::CheckOk() const {
  if (!ok()) PanicBadResultAccess(std::get<1>(v_));
}
template <typename T>
void Result<T>::CheckNotOk() const {
  if (ok() || std::get<1>(v_).ok()) PanicOkStatusAsError();
}

}  // namespace plumb

#define PLUMB_CONCAT_INNER(a, b) a##b
#define PLUMB_CONCAT(a, b) PLUMB_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is not ok.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::plumb::Status plumb_status_ = (expr);        \
    if (!plumb_status_.ok()) return plumb_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a Result or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(PLUMB_CONCAT(plumb_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
