#include "ctxscope/analysis/suppressions.hpp"

#include <filesystem>

#include <fnmatch.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ctxscope::analysis {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// LSan semantics: unanchored patterns match anywhere in the subject.
bool glob_in(const std::string& pattern, const std::string& subject) {
  if (subject.empty()) return false;
  std::string p = pattern;
  const bool anchor_start = !p.empty() && p.front() == '^';
  if (anchor_start) p.erase(0, 1);
  const bool anchor_end = !p.empty() && p.back() == '$';
  if (anchor_end) p.pop_back();
  if (!anchor_start) p.insert(0, "*");
  if (!anchor_end) p += "*";
  return fnmatch(p.c_str(), subject.c_str(), 0) == 0;
}

}  // namespace

bool Suppressions::parse(const std::string& text, const std::string& origin, std::string* err) {
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (auto h = line.find('#'); h != std::string::npos) line.erase(h);
    line = trim(line);
    if (line.empty()) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == line.size()) {
      if (err) *err = origin + ":" + std::to_string(n) + ": expected 'rule:site-glob', got '" + line + "'";
      return false;
    }
    Suppression s{trim(line.substr(0, colon)), trim(line.substr(colon + 1)), n};
    if (s.rule != "*" && !is_rule(s.rule)) {
      if (err) *err = origin + ":" + std::to_string(n) + ": unknown rule '" + s.rule + "'";
      return false;
    }
    entries_.push_back(std::move(s));
  }
  return true;
}

bool Suppressions::load(const std::string& path, std::string* err) {
  // An ifstream opens a directory "successfully" and reads nothing from it: the
  // suppressions would silently be empty.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    if (err) *err = path + ": cannot read suppressions file: is a directory";
    return false;
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    if (err) *err = path + ": cannot read suppressions file: " + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse(ss.str(), path, err);
}

bool Suppressions::matches(const Finding& f) const {
  for (const auto& s : entries_) {
    if (s.rule != "*" && s.rule != f.rule) continue;
    if (glob_in(s.pattern, f.site.file) || glob_in(s.pattern, f.site.function)) return true;
    if (f.site.known() && glob_in(s.pattern, f.site.file + ":" + std::to_string(f.site.line))) return true;
    for (const auto& fr : f.stack)
      if (glob_in(s.pattern, fr)) return true;
  }
  return false;
}

void Suppressions::apply(Report& r) const {
  if (entries_.empty()) return;
  auto it = std::stable_partition(r.findings.begin(), r.findings.end(),
                                  [&](const Finding& f) { return !matches(f); });
  for (auto k = it; k != r.findings.end(); ++k) {
    ++r.suppressed;
    ++r.suppressed_by_rule[k->rule];
  }
  r.findings.erase(it, r.findings.end());
}

}  // namespace ctxscope::analysis
