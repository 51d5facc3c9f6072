// ctxscope/viewer/trace_filter.hpp — the search box's filter over a document.
//
// Text is a list of terms, all of which must match (case-insensitive
// substrings).  A term is `word` (any field) or `field:word` with field one
// of site, label, thread, state, rule, kind:
//
//   "buggy.cpp"          anything created / waiting / found at that file
//   "state:leaked"       contexts drawn as leaked, their threads, their findings
//   "rule:stuck-wait thread:worker"
//
// A context is shown when it matches or one of its descendants does (its
// ancestors stay, so the tree stays a tree: context_matches() tells which are
// hits).  Threads and findings are shown when they match.  An empty filter
// shows everything.
//
// `test` (a TestCase id of a trace recorded under the probe; 0: all) keeps one
// test's slice of the run: the contexts it created (Context::test) with their
// ancestors, the threads it started (Thread::test), and the findings whose
// context or thread is its own.  Immutable; built on the GUI thread in
// O(size of trace).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ctxscope/viewer/trace_document.hpp"

namespace ctxscope::viewer {

class TraceFilter {
 public:
  TraceFilter() = default;
  TraceFilter(const TraceDocument& doc, std::string_view text, std::uint32_t test = 0);

  bool empty() const noexcept { return terms_.empty() && test_ == 0; }
  std::uint32_t test() const noexcept { return test_; }
  bool context_visible(std::uint32_t c) const noexcept { return empty() || ctx_visible_[c]; }
  bool context_matches(std::uint32_t c) const noexcept { return empty() || ctx_match_[c]; }
  bool thread_visible(std::uint32_t t) const noexcept { return empty() || thread_visible_[t]; }
  bool finding_visible(std::uint32_t f) const noexcept { return empty() || finding_visible_[f]; }
  std::size_t matching_contexts() const noexcept;

 private:
  struct Term {
    std::string field;  // "" any
    std::string word;   // lower case
  };
  std::vector<Term> terms_;
  std::uint32_t test_ = 0;
  std::vector<char> ctx_match_, ctx_visible_, thread_visible_, finding_visible_;
};

}  // namespace ctxscope::viewer
