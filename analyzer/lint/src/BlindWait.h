// blind-wait: a blocking call that cannot observe cancellation, made where a
// ctxscope::Context is at hand — so the wait could have given up when the
// context is done, and will not.
//
// "At hand" means, for the innermost function or lambda around the call: a
// parameter of type Context, a local Context (or structured binding of one)
// declared in an enclosing scope before the call, or one the lambda captures.
// A lambda with a capture-default ([&] or [=]) could capture any Context
// visible where it is written, so those count too: that is the goroutine body
// `go(ctx, "worker", [&] { ch.recv(); })` the dynamic analyzer flags.
#pragma once

#include "Diagnostic.h"
#include "clang/ASTMatchers/ASTMatchFinder.h"

namespace ctxscope::lint {

class BlindWait {
 public:
  void register_matchers(clang::ast_matchers::MatchFinder& finder,
                         clang::ast_matchers::MatchFinder::MatchCallback* cb);
  void run(const clang::ast_matchers::MatchFinder::MatchResult& result, Reporter& out);
  void reset() {}  // no per-translation-unit state
};

}  // namespace ctxscope::lint
