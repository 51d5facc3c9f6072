// Names of the enumeration codes a trace stores (docs/trace-schema.md): the
// runtime's own ctxscope::to_string, guarded against codes a damaged or
// hostile file may hold.  Reports always show these names, never codes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ctxscope/trace_codes.hpp"

namespace ctxscope::analysis::detail {

/// Name of code `v` of enumeration E ("cancel", "chan_recv", ...); `null_name`
/// for NULL; "unknown" for a code E does not have.
template <class E>
std::string enum_name(std::optional<std::int64_t> v, const char* null_name = "") {
  if (!v) return null_name;
  if (*v < 0 || *v > 255) return "unknown";
  return std::string(to_string(static_cast<E>(*v)));
}

}  // namespace ctxscope::analysis::detail
