#include "TraceMatch.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <tuple>

#include "ctxscope/analysis/analyzer.hpp"
#include "ctxscope/analysis/report.hpp"

namespace ctxscope::lint {

namespace fs = std::filesystem;

namespace {

fs::path normal(const std::string& p) {
  fs::path path(p);
  std::error_code ec;
  if (path.is_absolute()) return path.lexically_normal();
  return fs::absolute(path, ec).lexically_normal();
}

// "lost-cancel" -> "lost cancel": how the rule reads in a sentence.
std::string words(const std::string& rule) {
  std::string w = rule;
  std::replace(w.begin(), w.end(), '-', ' ');
  return w;
}

std::string times(std::size_t n) { return n == 1 ? "once" : std::to_string(n) + " times"; }

}  // namespace

bool same_source_file(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  if (normal(a) == normal(b)) return true;
  // A relative spelling that is not relative to the working directory (a
  // trace recorded elsewhere): compare the trailing components.
  fs::path pa = fs::path(a).lexically_normal(), pb = fs::path(b).lexically_normal();
  auto suffix = [](const fs::path& shorter, const fs::path& longer) {
    if (shorter.is_absolute()) return false;
    std::vector<fs::path> s(shorter.begin(), shorter.end()), l(longer.begin(), longer.end());
    if (s.size() < 2 || s.size() > l.size()) return false;
    return std::equal(s.rbegin(), s.rend(), l.rbegin());
  };
  return suffix(pa, pb) || suffix(pb, pa);
}

bool load_trace(const std::string& trace, analysis::Report& out, std::string& err) {
  return analysis::analyze_file(trace, analysis::Options{}, out, &err);
}

TraceComparison compare_with_trace(std::vector<Finding>& findings, const analysis::Report& report,
                                   const std::string& trace) {
  TraceComparison cmp;
  cmp.trace = trace;
  if (!report.run.complete)
    cmp.warnings.push_back("the run recorded in " + trace +
                           " has no end marker (it crashed or was killed): the runtime counts may be short");
  for (const std::string& w : report.warnings) cmp.warnings.push_back(trace + ": " + w);

  std::vector<bool> matched(report.findings.size(), false);
  auto count_at = [&](const Finding& f, const std::string& rule) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < report.findings.size(); ++i) {
      const analysis::Finding& r = report.findings[i];
      if (r.rule != rule || !r.site.known() || static_cast<unsigned>(r.site.line) != f.at.line) continue;
      if (!same_source_file(r.site.file, f.at.file)) continue;
      matched[i] = true;
      ++n;
    }
    return n;
  };
  for (Finding& f : findings) {
    std::size_t n = count_at(f, f.rule);
    f.runtime_count = static_cast<int>(n);
    std::string what = "at run time (" + trace + "): ";
    if (n > 0) {
      what += "this " + words(f.rule) + " happened " + times(n) + " in this run";
    } else if (std::size_t stuck = f.rule == "blind-wait" ? count_at(f, "stuck-wait") : 0; stuck > 0) {
      // The analyzer calls a wait blind once its thread's context is done; one
      // still blocked at the end whose context never was is stuck-wait.
      what += "this wait was stuck " + times(stuck) +
              " in this run (stuck-wait: blocked at the end, its context never done)";
    } else {
      what += "not reached in this run (no " + f.rule + " at this line in the trace)";
    }
    f.notes.push_back({f.at, what});
  }

  // What only the run shows, one entry per (rule, file, line).
  std::map<std::tuple<std::string, std::string, int>, std::pair<std::size_t, const analysis::Finding*>> rest;
  for (std::size_t i = 0; i < report.findings.size(); ++i) {
    if (matched[i]) continue;
    const analysis::Finding& r = report.findings[i];
    auto& slot = rest[{r.site.file, r.rule, r.site.line}];
    if (slot.first++ == 0) slot.second = &r;
  }
  for (const auto& [key, value] : rest) {
    const analysis::Finding& r = *value.second;
    Finding f;
    f.rule = r.rule;
    f.at = {r.site.known() ? r.site.file : std::string(), static_cast<unsigned>(std::max(r.site.line, 0)),
            static_cast<unsigned>(std::max(r.site.column, 0))};
    f.message = "seen at run time only (" + times(value.first) + " in " + trace + "): " + r.message;
    f.runtime_count = static_cast<int>(value.first);
    cmp.runtime_only.push_back(std::move(f));
  }
  return cmp;
}

}  // namespace ctxscope::lint
