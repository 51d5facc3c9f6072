// lost-cancel: the cancel function of a cancelable context is discarded, or
// held in a variable that some path to the end of the function never uses.
//
// Go's `go vet` lostcancel, transposed: a cancel is "used" by any reference to
// the variable after its definition — calling it, handing it to
// ctxscope::defer, passing, returning, storing or capturing it.  Paths are
// those of Clang's CFG for the function: `return`, falling off the end, a
// `throw` no handler in the function catches (the handlers that match the
// thrown type are computed here; a rethrow leaves its try statement), and (for
// a variable defined in a loop) reaching the same definition again.  Calls to
// [[noreturn]] functions end a path without a finding, as panics do for vet.
// A structured binding whose cancel name is never referenced is C++'s `_`:
// discarded.  Besides: assigned to std::ignore (discarded), overwritten (the
// variable assigned before any use), and moved into another local variable,
// which is then followed in its turn.
#pragma once

#include <map>
#include <memory>

#include "Diagnostic.h"
#include "clang/ASTMatchers/ASTMatchFinder.h"
#include "clang/Analysis/CFG.h"

namespace ctxscope::lint {

class LostCancel {
 public:
  void register_matchers(clang::ast_matchers::MatchFinder& finder,
                         clang::ast_matchers::MatchFinder::MatchCallback* cb);
  void run(const clang::ast_matchers::MatchFinder::MatchResult& result, Reporter& out);
  /// Drop per-translation-unit caches (CFGs).
  void reset() { cfgs_.clear(); }
  /// Off by default: every call or construction that is not noexcept is also
  /// an exception edge (to the handlers of the enclosing try, or out of the
  /// function).  The clang-tidy check's option CallsMayThrow.
  void set_calls_may_throw(bool on) { calls_may_throw_ = on; }

 private:
  const clang::CFG* cfg_for(const clang::FunctionDecl& fn, clang::ASTContext& ctx);
  std::map<const clang::FunctionDecl*, std::unique_ptr<clang::CFG>> cfgs_;
  bool calls_may_throw_ = false;
};

}  // namespace ctxscope::lint
