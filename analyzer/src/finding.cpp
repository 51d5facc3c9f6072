#include "ctxscope/analysis/finding.hpp"

#include <cinttypes>
#include <cstdio>

namespace ctxscope::analysis {

std::string Site::str() const {
  if (!known()) return "<unknown>";
  std::string s = file + ":" + std::to_string(line);
  if (!function.empty()) s += ":" + function;
  return s;
}

std::string format_duration(std::int64_t ns) {
  char buf[64];
  const bool neg = ns < 0;
  const double a = neg ? -static_cast<double>(ns) : static_cast<double>(ns);
  if (a >= 1e9) std::snprintf(buf, sizeof buf, "%.2f s", a / 1e9);
  else if (a >= 1e6) std::snprintf(buf, sizeof buf, "%.1f ms", a / 1e6);
  else if (a >= 1e3) std::snprintf(buf, sizeof buf, "%.0f µs", a / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f ns", a);
  return neg ? "-" + std::string(buf) : std::string(buf);
}

}  // namespace ctxscope::analysis
