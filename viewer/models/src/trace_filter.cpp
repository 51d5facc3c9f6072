#include "ctxscope/viewer/trace_filter.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace ctxscope::viewer {

using analysis::kNoIndex;

namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

/// The searchable text of one entity, by field.
struct Fields {
  std::string site, label, thread, state, rule, kind;
  const std::string* get(std::string_view f) const {
    if (f == "site") return &site;
    if (f == "label") return &label;
    if (f == "thread") return &thread;
    if (f == "state") return &state;
    if (f == "rule") return &rule;
    if (f == "kind") return &kind;
    return nullptr;
  }
  void finish() {
    for (auto* s : {&site, &label, &thread, &state, &rule, &kind}) *s = lower(*s);
  }
};

}  // namespace

TraceFilter::TraceFilter(const TraceDocument& doc, std::string_view text, std::uint32_t test) : test_(test) {
  std::istringstream in{std::string(text)};
  for (std::string tok; in >> tok;) {
    Term t;
    const auto colon = tok.find(':');
    const std::string key = colon == std::string::npos ? "" : lower(tok.substr(0, colon));
    if (colon != std::string::npos && Fields{}.get(key) != nullptr && colon + 1 < tok.size()) {
      t.field = key;
      t.word = lower(tok.substr(colon + 1));
    } else {
      t.word = lower(tok);  // "file.cpp:12" stays one word
    }
    terms_.push_back(std::move(t));
  }
  if (empty()) return;

  const auto& m = doc.model();
  const auto& findings = doc.report().findings;
  auto matches = [&](const Fields& f) {
    for (const auto& t : terms_) {
      bool hit = false;
      if (t.field.empty()) {
        for (const auto* s : {&f.site, &f.label, &f.thread, &f.state, &f.rule, &f.kind})
          if (s->find(t.word) != std::string::npos) { hit = true; break; }
      } else {
        hit = f.get(t.field)->find(t.word) != std::string::npos;
      }
      if (!hit) return false;
    }
    return true;
  };
  auto thread_name = [&](std::uint32_t tid) {
    const auto t = m.find_thread(tid);
    return t == kNoIndex ? std::string() : doc.thread_title(t);
  };

  const auto nc = m.contexts().size();
  ctx_match_.assign(nc, 0);
  ctx_visible_.assign(nc, 0);
  for (std::uint32_t c = 0; c < nc; ++c) {
    const auto& x = m.contexts()[c];
    Fields f;
    f.site = m.site(x.site).str();
    f.label = x.label;
    f.thread = thread_name(x.thread);
    f.state = to_string(doc.node_state(c));
    f.kind = m.name_of("kind", x.kind);
    for (auto fi : doc.findings_of_context(c)) f.rule += findings[fi].rule + " ";
    f.finish();
    ctx_match_[c] = matches(f) && (test_ == 0 || x.test == test_);
  }
  // Shown: a hit and every ancestor of a hit.
  for (std::uint32_t c = 0; c < nc; ++c) {
    if (!ctx_match_[c]) continue;
    for (std::uint32_t a = c; a != kNoIndex && !ctx_visible_[a]; a = m.contexts()[a].parent) ctx_visible_[a] = 1;
  }

  const auto nt = m.threads().size();
  thread_visible_.assign(nt, 0);
  for (std::uint32_t t = 0; t < nt; ++t) {
    const auto& x = m.threads()[t];
    Fields f;
    f.site = m.site(x.spawn_site).str();
    for (auto w : x.waits) {
      f.site += " " + m.site(m.waits()[w].site).str();
      if (!m.waits()[w].label.empty()) f.label += m.waits()[w].label + " ";
      for (auto fi : doc.findings_of_wait(w)) f.rule += findings[fi].rule + " ";
    }
    f.thread = doc.thread_title(t);
    if (x.ctx != kNoIndex) {
      f.state = to_string(doc.node_state(x.ctx));
      f.kind = m.name_of("kind", m.contexts()[x.ctx].kind);
    }
    for (std::uint32_t fi = 0; fi < findings.size(); ++fi)
      if (doc.finding_thread(fi) == t) f.rule += findings[fi].rule + " ";
    f.finish();
    thread_visible_[t] = matches(f) && (test_ == 0 || x.test == test_);
  }

  finding_visible_.assign(findings.size(), 0);
  for (std::uint32_t fi = 0; fi < findings.size(); ++fi) {
    const auto& x = findings[fi];
    Fields f;
    f.site = x.site.str();
    f.thread = x.thread_name;
    f.rule = x.rule + " " + x.subkind;
    const auto c = doc.finding_context(fi);
    if (c != kNoIndex) {
      f.state = to_string(doc.node_state(c));
      f.kind = m.name_of("kind", m.contexts()[c].kind);
      f.label = m.contexts()[c].label;
      f.site += " " + m.site(m.contexts()[c].site).str();
    }
    const auto w = doc.finding_wait(fi);
    if (w != kNoIndex) f.label += " " + m.waits()[w].label;
    f.finish();
    bool in_test = test_ == 0;
    if (!in_test) {
      const auto ft = doc.finding_thread(fi);
      in_test = (c != kNoIndex && m.contexts()[c].test == test_) || (ft != kNoIndex && m.threads()[ft].test == test_);
    }
    finding_visible_[fi] = matches(f) && in_test;
  }
}

std::size_t TraceFilter::matching_contexts() const noexcept {
  return static_cast<std::size_t>(std::count(ctx_match_.begin(), ctx_match_.end(), 1));
}

}  // namespace ctxscope::viewer
