// Two runs compared (diff.hpp): findings by fingerprint, then by the same
// without lines; entities by what they are.
#include "ctxscope/analysis/diff.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <sstream>

#include "ctxscope/analysis/report.hpp"

namespace ctxscope::analysis {
namespace {

std::string base(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

// "ns::f" of "std::error_code ns::f(const Context&)": the name without its
// return type and parameters (a lambda's or operator's name stays whole).
std::string short_function(const std::string& f) {
  const auto paren = f.find('(');
  if (paren == std::string::npos || paren == 0) return f;
  std::string name = f.substr(0, paren);
  int depth = 0;  // the last space outside template brackets ends the return type
  for (std::size_t i = name.size(); i-- > 0;) {
    if (name[i] == '>') ++depth;
    else if (name[i] == '<') --depth;
    else if (name[i] == ' ' && depth == 0) return name.substr(i + 1);
  }
  return name;
}

// A site without its line: "function (file)".
std::string where(const Site& s) {
  if (!s.known()) return "";
  return s.function.empty() ? base(s.file) : short_function(s.function) + " (" + base(s.file) + ")";
}

// A finding's identity without line numbers.
std::string loose_key(const Finding& f) {
  std::string k = f.rule + "\x1f" + f.subkind + "\x1f" + where(f.site) + "\x1f" + f.thread_name;
  for (const AncestryEntry& a : f.ancestry) k += "\x1f" + a.kind + "@" + where(a.site);
  return k;
}

void match_findings(const Report& ra, const Report& rb, RunDiff& d) {
  const auto fa = fingerprints(ra.findings), fb = fingerprints(rb.findings);
  std::vector<bool> used_a(fa.size()), used_b(fb.size());
  // Pass 1: exact fingerprints (unique within a report: repeats are numbered).
  std::map<std::string, std::size_t> by_fp;
  for (std::size_t i = 0; i < fa.size(); ++i) by_fp.emplace(fa[i], i);
  for (std::size_t j = 0; j < fb.size(); ++j)
    if (auto it = by_fp.find(fb[j]); it != by_fp.end() && !used_a[it->second]) {
      used_a[it->second] = used_b[j] = true;
      d.kept.push_back(rb.findings[j]);
      d.kept_in_b.push_back(static_cast<std::uint32_t>(j));
    }
  // Pass 2: what is left, without lines (an edit moved them), in order.
  std::multimap<std::string, std::size_t> loose;
  for (std::size_t i = 0; i < fa.size(); ++i)
    if (!used_a[i]) loose.emplace(loose_key(ra.findings[i]), i);
  for (std::size_t j = 0; j < fb.size(); ++j) {
    if (used_b[j]) continue;
    if (auto it = loose.find(loose_key(rb.findings[j])); it != loose.end()) {
      used_a[it->second] = used_b[j] = true;
      loose.erase(it);
      d.kept.push_back(rb.findings[j]);
      d.kept_in_b.push_back(static_cast<std::uint32_t>(j));
    }
  }
  for (std::size_t i = 0; i < fa.size(); ++i)
    if (!used_a[i]) {
      d.fixed.push_back(ra.findings[i]);
      d.fixed_in_a.push_back(static_cast<std::uint32_t>(i));
    }
  for (std::size_t j = 0; j < fb.size(); ++j)
    if (!used_b[j]) {
      d.added.push_back(rb.findings[j]);
      d.added_in_b.push_back(static_cast<std::uint32_t>(j));
    }
}

std::string context_key(const TraceModel& m, std::uint32_t i) {
  const Context& c = m.contexts()[i];
  std::string k = m.name_of("kind", c.kind);
  if (const std::string w = where(m.site(c.site)); !w.empty()) k += " created in " + w;
  const auto anc = m.ancestry(i);
  if (anc.size() > 1) {
    k += " under ";
    for (std::size_t a = 0; a + 1 < anc.size(); ++a) {
      const Context& p = m.contexts()[anc[a]];
      k += (a ? " → " : "") + m.name_of("kind", p.kind);
      if (const std::string w = where(m.site(p.site)); !w.empty()) k += " (" + w + ")";
    }
  }
  return k;
}

std::string wait_key(const TraceModel& m, std::uint32_t i) {
  const Wait& w = m.waits()[i];
  std::string k = m.name_of("wait_object", w.object);
  if (!w.label.empty()) k += " '" + w.label + "'";
  if (const std::string s = where(m.site(w.site)); !s.empty()) k += " in " + s;
  k += w.observes_context() ? " (observing its context)" : " (blind)";
  return k;
}

// Entities grouped by key in each run; the kinds whose counts differ, with
// the surplus of the run that has more (its last entities of that kind:
// the first min(a, b) pair up in creation order) flagged in only_a / only_b.
template <class Key>
std::vector<EntityCount> count_diff(const TraceModel& a, std::size_t na, const TraceModel& b, std::size_t nb, Key key,
                                    std::vector<std::uint8_t>& only_a, std::vector<std::uint8_t>& only_b) {
  std::map<std::string, std::pair<std::vector<std::uint32_t>, std::vector<std::uint32_t>>> groups;
  for (std::uint32_t i = 0; i < na; ++i) groups[key(a, i)].first.push_back(i);
  for (std::uint32_t i = 0; i < nb; ++i) groups[key(b, i)].second.push_back(i);
  only_a.assign(na, 0);
  only_b.assign(nb, 0);
  std::vector<EntityCount> out;
  for (auto& [what, g] : groups) {
    const auto& [ia, ib] = g;
    if (ia.size() == ib.size()) continue;
    EntityCount c;
    c.what = what;
    c.a = ia.size();
    c.b = ib.size();
    const std::size_t both = std::min(ia.size(), ib.size());
    c.only_a.assign(ia.begin() + static_cast<std::ptrdiff_t>(both), ia.end());
    c.only_b.assign(ib.begin() + static_cast<std::ptrdiff_t>(both), ib.end());
    for (auto i : c.only_a) only_a[i] = 1;
    for (auto i : c.only_b) only_b[i] = 1;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

RunDiff diff_runs(const TraceModel& a, const Report& ra, const TraceModel& b, const Report& rb) {
  RunDiff d;
  match_findings(ra, rb, d);
  d.contexts = count_diff(a, a.contexts().size(), b, b.contexts().size(), context_key, d.context_only_a,
                          d.context_only_b);
  d.waits = count_diff(a, a.waits().size(), b, b.waits().size(), wait_key, d.wait_only_a, d.wait_only_b);
  return d;
}

std::string diff_to_text(const RunDiff& d, const std::string& a_name, const std::string& b_name) {
  std::ostringstream o;
  auto section = [&](const char* title, const std::vector<Finding>& fs) {
    o << title << ": " << fs.size() << (fs.size() == 1 ? " finding" : " findings") << "\n";
    for (const Finding& f : fs) o << finding_to_text(f);
  };
  o << "ctxscope diff: A = " << a_name << ", B = " << b_name << "\n";
  section("fixed (in A, not in B)", d.fixed);
  section("new (in B, not in A)", d.added);
  section("in both", d.kept);
  auto counts = [&](const char* title, const std::vector<EntityCount>& cs) {
    o << title << ": " << (cs.empty() ? "the same in both\n" : "\n");
    for (const EntityCount& c : cs) o << "  " << c.a << " → " << c.b << "  " << c.what << "\n";
  };
  counts("contexts by kind, creation function and ancestry (A → B)", d.contexts);
  counts("waits by object, label and function (A → B)", d.waits);
  o << "ctxscope diff: " << d.fixed.size() << " fixed, " << d.added.size() << " new, " << d.kept.size()
    << " in both\n";
  return o.str();
}

std::string diff_to_json(const RunDiff& d, const std::string& a_name, const std::string& b_name) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["a"] = a_name;
  j["b"] = b_name;
  j["fixed"] = ordered_json::parse(findings_to_json(d.fixed));
  j["added"] = ordered_json::parse(findings_to_json(d.added));
  j["kept"] = ordered_json::parse(findings_to_json(d.kept));
  for (auto [name, cs] : {std::pair{"contexts", &d.contexts}, std::pair{"waits", &d.waits}}) {
    auto arr = ordered_json::array();
    for (const EntityCount& c : *cs) arr.push_back(ordered_json{{"what", c.what}, {"a", c.a}, {"b", c.b}});
    j[name] = std::move(arr);
  }
  return j.dump(2) + "\n";
}

}  // namespace ctxscope::analysis
