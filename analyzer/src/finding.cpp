#include "ctxscope/analysis/finding.hpp"

#include <cstdio>
#include <map>

#include <cinttypes>
#include <cstdio>

namespace ctxscope::analysis {

std::string Site::str() const {
  if (!known()) return "<unknown>";
  std::string s = file + ":" + std::to_string(line);
  if (!function.empty()) s += ":" + function;
  return s;
}

namespace {
std::string_view base_name(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}
}  // namespace

std::string fingerprint(const Finding& f) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a, 64 bits
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // field separator
    h *= 1099511628211ull;
  };
  auto mix_site = [&](const Site& s) {
    mix(base_name(s.file));
    mix(std::to_string(s.line));
    mix(s.function);
  };
  mix(f.rule);
  mix(f.subkind);
  mix_site(f.site);
  for (const AncestryEntry& a : f.ancestry) {
    mix(a.kind);
    mix_site(a.site);
  }
  mix(f.thread_name);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::vector<std::string> fingerprints(const std::vector<Finding>& fs) {
  std::vector<std::string> out;
  std::map<std::string, int> seen;
  for (const Finding& f : fs) {
    std::string fp = fingerprint(f);
    const int n = ++seen[fp];
    if (n > 1) fp += "-" + std::to_string(n);
    out.push_back(std::move(fp));
  }
  return out;
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
