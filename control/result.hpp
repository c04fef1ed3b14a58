#pragma once
// strait-agent reports failures the way the UAPI library does: a Result<T> holding a value or
// an Error with a sentence for the log. One type for the whole control path.

#include "uapi/model.hpp"

namespace strait::ctl {

using uapi::Error;
using uapi::Result;

// An Error with EINVAL and `message`, for the common case of "this input is wrong".
[[nodiscard]] inline Error invalid(std::string message) { return Error{EINVAL, std::move(message)}; }

}  // namespace strait::ctl
