#pragma once
// The one error type of strait's shells and control code (docs/LAYERS.md, floor 0): a value or
// an Error that says, in one sentence, what failed and where we know it how to fix it, with an
// errno-style code where the caller needs one (the UAPI answers errno=N). The protocol core
// returns its own error enums instead (it runs per packet and allocates nothing); nothing that
// returns a Result throws. A small stand-in for C++23 std::expected, which g++ 12 in C++20 mode
// does not have. In namespace strait itself, so that every room finds it unqualified.

#include <cerrno>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace strait {

struct Error {
  Error() = default;
  Error(std::string what) : message(std::move(what)) {}  // NOLINT: Error{"..."} reads best
  Error(int errno_code, std::string what) : message(std::move(what)), code(errno_code) {}

  std::string message;
  int code = EINVAL;  // positive, from errno.h: what the UAPI reports for it
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design, like std::expected
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // Precondition: ok().
  [[nodiscard]] T& value() & { return std::get<0>(v_); }
  [[nodiscard]] const T& value() const& { return std::get<0>(v_); }
  [[nodiscard]] T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // Precondition: !ok().
  [[nodiscard]] const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  [[nodiscard]] bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  // Precondition: !ok().
  [[nodiscard]] const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace strait
