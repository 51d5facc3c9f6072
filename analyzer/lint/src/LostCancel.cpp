#include "LostCancel.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ApiModel.h"
#include "clang/AST/DeclCXX.h"
#include "clang/AST/ExprCXX.h"
#include "clang/AST/ParentMapContext.h"
#include "clang/AST/StmtCXX.h"
#include "clang/ASTMatchers/ASTMatchers.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace ctxscope::lint {

using namespace clang;
using namespace clang::ast_matchers;

namespace {

// What happens to the pair a creator returns.
enum class Fate {
  discarded,  // the cancel can never be called: report at once
  tracked,    // held in a local variable: search the CFG
  escapes,    // returned, passed, stored in a member or a global: not ours to judge
};

struct Classification {
  Fate fate = Fate::escapes;
  std::string why;                   // for discarded: how it was lost
  const ValueDecl* var = nullptr;    // tracked: the variable holding the cancel
  bool whole_pair = false;           // tracked: var holds the pair (uses of .first do not count)
  const Decl* def_decl = nullptr;    // tracked: the declaration defining var, if any
  const Stmt* def_stmt = nullptr;    // tracked: the assignment defining var, if any
};

bool is_local(const ValueDecl* d) {
  if (const auto* vd = dyn_cast<VarDecl>(d)) return vd->hasLocalStorage();
  return isa<BindingDecl>(d);
}

// std::tie(a, b) = with_cancel(...): the pieces of the left-hand side.
const CallExpr* as_std_tie(const Expr* e) {
  const auto* call = dyn_cast<CallExpr>(e->IgnoreImplicit()->IgnoreParens());
  if (call == nullptr) return nullptr;
  const FunctionDecl* fn = call->getDirectCallee();
  if (fn == nullptr || fn->getQualifiedNameAsString() != "std::tie") return nullptr;
  return call;
}

Classification classify(const CallExpr& create, ASTContext& ctx) {
  Classification c;
  DynTypedNode cur = DynTypedNode::create(create);
  bool cancel_only = false;  // walked through `.second`: the value is the cancel itself
  for (;;) {
    DynTypedNodeList parents = ctx.getParents(cur);
    if (parents.empty()) return c;
    const DynTypedNode& p = parents[0];

    if (const auto* vd = p.get<VarDecl>()) {
      if (const auto* dd = dyn_cast<DecompositionDecl>(vd)) {
        if (cancel_only || dd->bindings().size() < 2) return c;
        if (!vd->hasLocalStorage()) return c;
        c.fate = Fate::tracked;
        c.var = dd->bindings()[1];
        c.def_decl = dd;
        return c;
      }
      if (!vd->hasLocalStorage()) return c;  // a global or static: stored for later
      c.fate = Fate::tracked;
      c.var = vd;
      c.whole_pair = !cancel_only;
      c.def_decl = vd;
      return c;
    }
    const Stmt* ps = p.get<Stmt>();
    if (ps == nullptr) return c;  // e.g. a default member initializer: stored

    if (isa<ImplicitCastExpr, ParenExpr, MaterializeTemporaryExpr, CXXBindTemporaryExpr, FullExpr>(ps)) {
      cur = p;
      continue;
    }
    if (const auto* cast = dyn_cast<ExplicitCastExpr>(ps)) {
      if (cast->getType()->isVoidType()) {
        c.fate = Fate::discarded;
        c.why = "cast to void";
        return c;
      }
      cur = p;
      continue;
    }
    if (const auto* me = dyn_cast<MemberExpr>(ps)) {
      llvm::StringRef member = me->getMemberDecl()->getName();
      if (member == "first" && !cancel_only) {
        c.fate = Fate::discarded;
        c.why = "only .first is kept";
        return c;
      }
      if (member == "second" && !cancel_only) {
        cancel_only = true;
        cur = p;
        continue;
      }
      return c;
    }
    if (const auto* construct = dyn_cast<CXXConstructExpr>(ps)) {
      if (construct->getConstructor()->isCopyOrMoveConstructor()) {
        cur = p;
        continue;
      }
      return c;
    }
    if (const auto* op = dyn_cast<CXXOperatorCallExpr>(ps)) {
      if (op->getOperator() != OO_Equal || op->getNumArgs() != 2) return c;
      const Expr* lhs = op->getArg(0);
      if (const CallExpr* tie = as_std_tie(lhs)) {
        if (cancel_only || tie->getNumArgs() != 2) return c;
        const auto* ref = dyn_cast<DeclRefExpr>(tie->getArg(1)->IgnoreParenImpCasts());
        if (ref == nullptr) return c;  // a member or an element: stored
        if (ref->getDecl()->getQualifiedNameAsString() == "std::ignore") {
          c.fate = Fate::discarded;
          c.why = "assigned to std::ignore";
          return c;
        }
        if (!is_local(ref->getDecl())) return c;
        c.fate = Fate::tracked;
        c.var = ref->getDecl();
        c.def_stmt = op;
        return c;
      }
      const auto* ref = dyn_cast<DeclRefExpr>(lhs->IgnoreParenImpCasts());
      if (ref != nullptr && ref->getDecl()->getQualifiedNameAsString() == "std::ignore") {
        c.fate = Fate::discarded;
        c.why = "assigned to std::ignore";
        return c;
      }
      if (ref == nullptr || !is_local(ref->getDecl())) return c;
      c.fate = Fate::tracked;
      c.var = ref->getDecl();
      c.whole_pair = !cancel_only;
      c.def_stmt = op;
      return c;
    }
    if (isa<ReturnStmt, CoreturnStmt>(ps) || isa<Expr>(ps)) return c;  // returned, passed, captured...
    // Any other statement (a compound statement, a branch of an if, a loop
    // body): the expression is evaluated for its side effects only.
    c.fate = Fate::discarded;
    c.why = "result unused";
    return c;
  }
}

// Visits `s` and everything evaluated within it, including lambda bodies
// (a capture is a use of the captured variable).  `f` returns true to stop.
template <class F>
bool any_stmt(const Stmt* s, F&& f) {
  if (s == nullptr) return false;
  if (f(s)) return true;
  if (const auto* lambda = dyn_cast<LambdaExpr>(s)) {
    for (const Expr* init : lambda->capture_inits())
      if (any_stmt(init, f)) return true;
    return any_stmt(lambda->getBody(), f);
  }
  for (const Stmt* child : s->children())
    if (any_stmt(child, f)) return true;
  return false;
}

// What an element of the CFG does to the tracked variable.
enum class Effect {
  none,
  use,       // called, passed, returned, stored, captured, copied: the cancel is accounted for
  transfer,  // moved into another local variable: that one must be used now
  kill,      // overwritten (assigned) before any use: the cancel held is lost
};

struct Transfer {
  const VarDecl* to = nullptr;      // the local it is moved into
  const Decl* def_decl = nullptr;   // its declaration (auto c2 = std::move(cancel))
  const Stmt* def_stmt = nullptr;   // or the assignment (c2 = std::move(cancel))
  bool whole_pair = false;
};

bool is_std_move(const CallExpr* call) {
  if (call == nullptr || call->getNumArgs() != 1) return false;
  const FunctionDecl* fn = call->getDirectCallee();
  return fn != nullptr && (fn->getQualifiedNameAsString() == "std::move");
}

// A plain or overloaded assignment `lhs = rhs`: its two sides, else nullptr.
std::pair<const Expr*, const Expr*> assignment_sides(const Stmt* s) {
  if (const auto* op = dyn_cast<CXXOperatorCallExpr>(s); op != nullptr && op->getOperator() == OO_Equal &&
                                                          op->getNumArgs() == 2)
    return {op->getArg(0), op->getArg(1)};
  if (const auto* bo = dyn_cast<BinaryOperator>(s); bo != nullptr && bo->getOpcode() == BO_Assign)
    return {bo->getLHS(), bo->getRHS()};
  return {nullptr, nullptr};
}

// Recognises uses of the tracked variable, and the two ways it is lost without
// one: overwritten, or moved into another local.
class UseFinder {
 public:
  UseFinder(const Classification& c, ASTContext& ctx) : c_(c), ctx_(ctx) {
    // References inside the defining statement (std::tie(ctx, cancel) = ...) are the definition.
    if (c.def_stmt != nullptr)
      any_stmt(c.def_stmt, [&](const Stmt* s) {
        if (const auto* r = dyn_cast<DeclRefExpr>(s)) defining_.insert(r);
        return false;
      });
  }

  /// Any reference at all that is not the definition (uses, transfers, kills).
  bool uses(const Stmt* root) const {
    bool found = false;
    walk(root, [&](const DeclRefExpr*) { found = true; }, found);
    return found;
  }

  /// What `root` (one CFG element) does to the variable; for a transfer, `t` says where to.
  Effect effect(const Stmt* root, Transfer& t) const {
    Effect best = Effect::none;
    bool stop = false;
    walk(
        root,
        [&](const DeclRefExpr* ref) {
          Transfer here;
          Effect e = ref == nullptr ? Effect::use : effect_of(ref, here);
          if (e == Effect::use) {
            best = Effect::use;
            stop = true;
          } else if (e == Effect::transfer && best != Effect::transfer) {
            best = Effect::transfer;
            t = here;
          } else if (e == Effect::kill && best == Effect::none) {
            best = Effect::kill;
          }
        },
        stop);
    return best;
  }

 private:
  // Calls `f(ref)` for each reference to the variable under `s` (f(nullptr) for
  // a capture by a lambda, which is a use) until `stop`.
  void walk(const Stmt* s, llvm::function_ref<void(const DeclRefExpr*)> f, bool& stop) const {
    if (s == nullptr || stop) return;
    if (const auto* me = dyn_cast<MemberExpr>(s); me != nullptr && c_.whole_pair) {
      const auto* base = dyn_cast<DeclRefExpr>(me->getBase()->IgnoreParenImpCasts());
      if (base != nullptr && base->getDecl() == c_.var && !defining_.count(base)) {
        // p.first is the context: only a use of the pair as a whole or of .second counts.
        if (me->getMemberDecl()->getName() != "first") f(base);
        return;
      }
    }
    if (const auto* ref = dyn_cast<DeclRefExpr>(s)) {
      if (ref->getDecl() == c_.var && !defining_.count(ref)) f(ref);
      return;
    }
    if (const auto* lambda = dyn_cast<LambdaExpr>(s)) {
      for (const LambdaCapture& cap : lambda->captures())
        if (cap.capturesVariable() && cap.getCapturedVar() == c_.var) {
          f(nullptr);
          return;
        }
      // An init-capture ([c = std::move(cancel)]) is a capture: a use.
      bool inner = false;
      for (const Expr* init : lambda->capture_inits()) walk(init, [&](const DeclRefExpr*) { inner = true; }, inner);
      walk(lambda->getBody(), [&](const DeclRefExpr*) { inner = true; }, inner);
      if (inner) f(nullptr);
      return;
    }
    for (const Stmt* child : s->children()) walk(child, f, stop);
  }

  // Follows the reference outwards through what only carries the value.
  Effect effect_of(const DeclRefExpr* ref, Transfer& t) const {
    DynTypedNode cur = DynTypedNode::create(*ref);
    bool moved = false, whole = c_.whole_pair;
    for (int depth = 0; depth < 16; ++depth) {
      DynTypedNodeList parents = ctx_.getParents(cur);
      if (parents.empty()) return Effect::use;
      const DynTypedNode& p = parents[0];
      if (const auto* vd = p.get<VarDecl>()) {
        // auto c2 = std::move(cancel): the cancel now lives in c2.
        if (moved && vd->hasLocalStorage() && !vd->isInitCapture() && !isa<ParmVarDecl>(vd) &&
            !vd->getType()->isReferenceType() && !isa<DecompositionDecl>(vd)) {
          t.to = vd;
          t.def_decl = vd;
          t.whole_pair = whole;
          return Effect::transfer;
        }
        return Effect::use;
      }
      const Stmt* ps = p.get<Stmt>();
      if (ps == nullptr) return Effect::use;
      if (isa<ImplicitCastExpr, ParenExpr, MaterializeTemporaryExpr, CXXBindTemporaryExpr, FullExpr>(ps)) {
        cur = p;
        continue;
      }
      if (const auto* me = dyn_cast<MemberExpr>(ps); me != nullptr && whole && me->getMemberDecl()->getName() == "second") {
        whole = false;
        cur = p;
        continue;
      }
      if (const auto* call = dyn_cast<CallExpr>(ps); call != nullptr && is_std_move(call)) {
        moved = true;
        cur = p;
        continue;
      }
      if (const auto* construct = dyn_cast<CXXConstructExpr>(ps)) {
        if (construct->getConstructor()->isCopyOrMoveConstructor()) {
          cur = p;
          continue;
        }
        return Effect::use;
      }
      if (auto [lhs, rhs] = assignment_sides(ps); lhs != nullptr) {
        const Stmt* from = cur.get<Stmt>();
        if (from == lhs) {
          // cancel = ...: lost unless the right-hand side uses the old value.
          return uses(rhs) ? Effect::use : Effect::kill;
        }
        // c2 = std::move(cancel), c2 a local.
        const auto* to = dyn_cast<DeclRefExpr>(lhs->IgnoreParenImpCasts());
        const auto* vd = to ? dyn_cast<VarDecl>(to->getDecl()) : nullptr;
        if (moved && vd != nullptr && vd != c_.var && vd->hasLocalStorage() && !isa<ParmVarDecl>(vd) &&
            !vd->getType()->isReferenceType()) {
          t.to = vd;
          t.def_stmt = ps;
          t.whole_pair = whole;
          return Effect::transfer;
        }
        return Effect::use;
      }
      if (const auto* call = dyn_cast<CallExpr>(ps); call != nullptr && as_std_tie(call) != nullptr) {
        // std::tie(ctx, cancel) = ...: an assignment to cancel.
        DynTypedNodeList up = ctx_.getParents(p);
        DynTypedNode top = p;
        while (!up.empty() && up[0].get<Stmt>() != nullptr &&
               isa<ImplicitCastExpr, ParenExpr, MaterializeTemporaryExpr, CXXBindTemporaryExpr>(up[0].get<Stmt>())) {
          top = up[0];
          up = ctx_.getParents(up[0]);
        }
        if (!up.empty())
          if (const Stmt* a = up[0].get<Stmt>())
            if (auto [lhs, rhs] = assignment_sides(a); lhs != nullptr && lhs == top.get<Stmt>())
              return uses(rhs) ? Effect::use : Effect::kill;
        return Effect::use;
      }
      return Effect::use;
    }
    return Effect::use;
  }

  const Classification& c_;
  ASTContext& ctx_;
  std::set<const DeclRefExpr*> defining_;
};

const Stmt* element_stmt(const CFGElement& e) {
  if (auto s = e.getAs<CFGStmt>()) return s->getStmt();
  return nullptr;
}

// The CFG element that binds the variable: its declaration or the assignment.
bool defines(const Stmt* s, const Classification& c) {
  if (c.def_stmt != nullptr) return s == c.def_stmt;
  if (const auto* ds = dyn_cast<DeclStmt>(s))
    for (const Decl* d : ds->decls())
      if (d == c.def_decl) return true;
  return false;
}

// Where a path leaves the function without using the cancel.
struct PathEnd {
  enum Kind { returned, thrown, call_threw, fell_off, next_iteration, overwritten } kind;
  SourceLocation loc;
};

PathEnd describe_exit(const CFGBlock& b, const FunctionDecl& fn) {
  for (auto it = b.rbegin(); it != b.rend(); ++it) {
    const Stmt* s = element_stmt(*it);
    if (s == nullptr) continue;
    if (isa<ReturnStmt, CoreturnStmt>(s)) return {PathEnd::returned, s->getBeginLoc()};
    if (isa<CXXThrowExpr>(s)) return {PathEnd::thrown, s->getBeginLoc()};
    break;
  }
  if (const Stmt* t = b.getTerminatorStmt(); t != nullptr && isa<CXXTryStmt>(t))
    return {PathEnd::thrown, t->getBeginLoc()};
  SourceLocation end = fn.getBody()->getEndLoc();
  return {PathEnd::fell_off, end};
}

// --- Exceptions --------------------------------------------------------------
// Clang's CFG (without EH edges) sends every `throw` in a `try` block to the
// try's dispatch block, whose successors are all its handlers and — unless one
// is `catch (...)` — the enclosing try or the exit.  That is every handler for
// every throw: a throw its handler catches would still "leave the function".
// Instead the handlers that can catch the thrown type are computed here, as
// the language does: the first handler that matches in the innermost try
// around the throw, outwards, else the exception leaves the function.

enum class Match { no, maybe, sure };

const CXXRecordDecl* record_of(QualType t) {
  if (t.isNull()) return nullptr;
  const auto* rd = t->getAsCXXRecordDecl();
  return rd != nullptr && rd->hasDefinition() ? rd->getDefinition() : nullptr;
}

// Does a handler for `h` catch an exception object of (static, hence dynamic) type `e`?
Match handler_matches(QualType h, QualType e, ASTContext& ctx) {
  if (h.isNull()) return Match::sure;  // catch (...)
  h = h.getNonReferenceType().getUnqualifiedType();
  e = e.getNonReferenceType().getUnqualifiedType();
  if (h->isDependentType() || e->isDependentType()) return Match::maybe;
  if (ctx.hasSameUnqualifiedType(h, e)) return Match::sure;
  const CXXRecordDecl* hr = record_of(h);
  const CXXRecordDecl* er = record_of(e);
  if (hr != nullptr && er != nullptr) return er->isDerivedFrom(hr) ? Match::sure : Match::no;
  if (h->isPointerType() && (e->isPointerType() || e->isNullPtrType())) {
    if (e->isNullPtrType()) return Match::sure;
    QualType hp = h->getPointeeType(), ep = e->getPointeeType();
    if (hp->isVoidType() && !ep->isFunctionType()) return Match::sure;
    if (ctx.hasSameUnqualifiedType(hp, ep)) return Match::sure;
    const CXXRecordDecl* hpr = record_of(hp);
    const CXXRecordDecl* epr = record_of(ep);
    if (hpr != nullptr && epr != nullptr && epr->isDerivedFrom(hpr)) return Match::sure;
    return Match::no;
  }
  return Match::no;
}

// A rethrown exception is one some handler `caught` (null: catch (...)) took:
// of that type or derived from it.
Match handler_matches_rethrown(QualType h, QualType caught, ASTContext& ctx) {
  if (h.isNull()) return Match::sure;
  if (caught.isNull()) return Match::maybe;
  if (Match m = handler_matches(h, caught, ctx); m != Match::no) return m;
  const CXXRecordDecl* hr = record_of(h.getNonReferenceType());
  const CXXRecordDecl* cr = record_of(caught.getNonReferenceType());
  if (hr != nullptr && cr != nullptr && hr->isDerivedFrom(cr)) return Match::maybe;
  return Match::no;
}

struct ThrowTargets {
  std::vector<const CXXCatchStmt*> handlers;  // the handlers that may catch it
  bool escapes = false;                       // and whether it may leave the function
};

bool is_function_boundary(const DynTypedNode& n) {
  return n.get<FunctionDecl>() != nullptr || n.get<LambdaExpr>() != nullptr || n.get<BlockDecl>() != nullptr ||
         n.get<BlockExpr>() != nullptr || n.get<CapturedStmt>() != nullptr;
}

// From `cur` outwards to the function's boundary: each handler of a try
// statement whose try block holds `cur` that `match` says may catch the
// exception is a target; a sure match ends the route, else it escapes.
template <class MatchFn>
ThrowTargets route_out(DynTypedNode cur, ASTContext& ctx, MatchFn&& match) {
  ThrowTargets out;
  for (;;) {
    DynTypedNodeList parents = ctx.getParents(cur);
    if (parents.empty() || is_function_boundary(parents[0])) break;
    const DynTypedNode p = parents[0];
    if (const auto* tr = p.get<CXXTryStmt>(); tr != nullptr && cur.get<Stmt>() == tr->getTryBlock()) {
      for (unsigned i = 0; i < tr->getNumHandlers(); ++i) {
        const CXXCatchStmt* h = tr->getHandler(i);
        const Match m = match(h->getCaughtType());
        if (m == Match::no) continue;
        out.handlers.push_back(h);
        if (m == Match::sure) return out;
      }
    }
    cur = p;
  }
  out.escapes = true;
  return out;
}

ThrowTargets route_throw(const CXXThrowExpr& t, ASTContext& ctx) {
  ThrowTargets out;
  DynTypedNode cur = DynTypedNode::create(t);
  bool rethrow = t.getSubExpr() == nullptr;
  QualType thrown, caught;
  if (!rethrow) {
    thrown = t.getSubExpr()->getType();
    if (thrown->isArrayType() || thrown->isFunctionType()) thrown = ctx.getDecayedType(thrown);
  } else {
    // `throw;` rethrows what the innermost handler around it caught, from
    // outside that handler's try statement.
    bool in_handler = false;
    for (;;) {
      DynTypedNodeList parents = ctx.getParents(cur);
      if (parents.empty() || is_function_boundary(parents[0])) break;
      cur = parents[0];
      if (const auto* handler = cur.get<CXXCatchStmt>()) {
        caught = handler->getCaughtType();
        in_handler = true;
        DynTypedNodeList up = ctx.getParents(cur);
        if (!up.empty()) cur = up[0];  // the CXXTryStmt
        break;
      }
    }
    if (!in_handler) {  // called from a handler, perhaps: it leaves this function
      out.escapes = true;
      return out;
    }
  }
  return route_out(cur, ctx, [&](QualType handled) {
    return rethrow ? handler_matches_rethrown(handled, caught, ctx) : handler_matches(handled, thrown, ctx);
  });
}

// With calls-may-throw: where an exception of unknown type thrown by the call
// `s` may go.  Only `catch (...)` surely catches it; a typed handler may.
ThrowTargets route_call(const Stmt& s, ASTContext& ctx) {
  return route_out(DynTypedNode::create(s), ctx, [](QualType handled) { return handled.isNull() ? Match::sure : Match::maybe; });
}

// A call or construction that may throw: its callee is not noexcept.
bool may_throw(const Stmt* s) {
  const FunctionDecl* fn = nullptr;
  if (const auto* call = dyn_cast<CallExpr>(s)) {
    fn = call->getDirectCallee();
    if (fn == nullptr) {  // through a pointer or a function object: look at the type
      QualType t = call->getCallee()->getType();
      if (const auto* pt = t->getAs<PointerType>()) t = pt->getPointeeType();
      if (const auto* fpt = t->getAs<FunctionProtoType>()) return !fpt->isNothrow();
      return true;
    }
  } else if (const auto* construct = dyn_cast<CXXConstructExpr>(s)) {
    if (construct->getConstructor()->isTrivial()) return false;
    fn = construct->getConstructor();
  } else {
    return false;
  }
  if (fn->isNoReturn()) return false;  // ends the path anyway
  if (const auto* fpt = fn->getType()->getAs<FunctionProtoType>()) return !fpt->isNothrow();
  return true;
}

const CXXThrowExpr* ends_in_throw(const CFGBlock& b) {
  for (auto it = b.rbegin(); it != b.rend(); ++it)
    if (const Stmt* s = element_stmt(*it)) return dyn_cast<CXXThrowExpr>(s);
  return nullptr;
}

// --- The search --------------------------------------------------------------

// A path on which the cancel is lost.
struct Leak {
  PathEnd end;
  std::vector<std::string> moved_into;  // the locals it was moved into on the way, in order
};

class PathSearch {
 public:
  PathSearch(const CFG& cfg, const FunctionDecl& fn, ASTContext& ctx, bool calls_may_throw)
      : cfg_(cfg), fn_(fn), ctx_(ctx), calls_may_throw_(calls_may_throw) {
    for (const CFGBlock* b : cfg)
      if (const auto* h = dyn_cast_or_null<CXXCatchStmt>(b->getLabel())) handler_block_[h] = b;
  }

  /// Depth-first search from the definition of `c.var` for a path to the
  /// exit that never passes through a use of it; `create` locates the definition's finding.
  std::optional<Leak> search(const Classification& c, SourceLocation create, int depth = 0) {
    // The definition: the element that binds the variable.
    const CFGBlock* def_block = nullptr;
    unsigned def_index = 0;
    for (const CFGBlock* b : cfg_) {
      unsigned i = 0;
      for (const CFGElement& e : *b) {
        if (const Stmt* s = element_stmt(e); s != nullptr && defines(s, c)) {
          def_block = b;
          def_index = i;
        }
        ++i;
      }
    }
    if (def_block == nullptr) return std::nullopt;  // unreachable code, or a shape the CFG does not show

    UseFinder finder(c, ctx_);
    std::optional<Leak> leak;
    // Scans elements [from, to) of b: true when the path ends there (used, or lost: `leak`).
    std::set<const CFGBlock*> seen;
    std::vector<const CFGBlock*> stack;
    auto scan = [&](const CFGBlock& b, unsigned from, unsigned to) -> bool {
      unsigned i = 0;
      for (const CFGElement& e : b) {
        if (i >= from && i < to)
          if (const Stmt* s = element_stmt(e)) {
            Transfer t;
            switch (finder.effect(s, t)) {
              case Effect::none:
                if (calls_may_throw_ && may_throw(s)) {
                  // An exception edge from this call: to the handlers that may catch it.
                  ThrowTargets to = route_call(*s, ctx_);
                  for (const CXXCatchStmt* h : to.handlers)
                    if (auto it = handler_block_.find(h); it != handler_block_.end()) stack.push_back(it->second);
                  if (to.escapes) {
                    leak = Leak{{PathEnd::call_threw, s->getBeginLoc()}, {}};
                    return true;
                  }
                }
                break;
              case Effect::use:
                return true;
              case Effect::kill:
                leak = Leak{{PathEnd::overwritten, s->getBeginLoc()}, {}};
                return true;
              case Effect::transfer: {
                if (depth >= 8) return true;
                Classification next;
                next.fate = Fate::tracked;
                next.var = t.to;
                next.whole_pair = t.whole_pair;
                next.def_decl = t.def_decl;
                next.def_stmt = t.def_stmt;
                if (std::optional<Leak> inner = search(next, t.to->getLocation(), depth + 1)) {
                  leak = std::move(inner);
                  leak->moved_into.insert(leak->moved_into.begin(), t.to->getNameAsString());
                }
                return true;
              }
            }
          }
        ++i;
      }
      return false;
    };

    auto leave = [&](const CFGBlock& b) -> bool {
      if (b.hasNoReturnElement()) return false;  // abort(), exit(): not a leak path
      if (const CXXThrowExpr* t = ends_in_throw(b)) {
        ThrowTargets to = route_throw(*t, ctx_);
        for (const CXXCatchStmt* h : to.handlers)
          if (auto it = handler_block_.find(h); it != handler_block_.end()) stack.push_back(it->second);
        if (to.escapes) {
          leak = Leak{{PathEnd::thrown, t->getBeginLoc()}, {}};
          return true;
        }
        return false;
      }
      for (const CFGBlock::AdjacentBlock& s : b.succs()) {
        const CFGBlock* next = s.getReachableBlock();
        if (next == nullptr) continue;
        if (next == &cfg_.getExit()) {
          leak = Leak{describe_exit(b, fn_), {}};
          return true;
        }
        stack.push_back(next);
      }
      return false;
    };
    if (scan(*def_block, def_index + 1, def_block->size())) return leak;
    if (leave(*def_block)) return leak;
    while (!stack.empty() && !leak) {
      const CFGBlock* b = stack.back();
      stack.pop_back();
      if (!seen.insert(b).second) continue;
      if (b == def_block) {
        // Back at the definition: the previous value is overwritten (or its
        // scope ended) unless it was used first.
        if (!scan(*b, 0, def_index) && !leak) leak = Leak{{PathEnd::next_iteration, create}, {}};
        continue;
      }
      if (scan(*b, 0, b->size())) continue;
      if (leave(*b)) break;
    }
    return leak;
  }

 private:
  const CFG& cfg_;
  const FunctionDecl& fn_;
  ASTContext& ctx_;
  bool calls_may_throw_ = false;
  std::map<const CXXCatchStmt*, const CFGBlock*> handler_block_;
};

}  // namespace

void LostCancel::register_matchers(MatchFinder& finder, MatchFinder::MatchCallback* cb) {
  std::vector<llvm::StringRef> names(cancel_creators().begin(), cancel_creators().end());
  finder.addMatcher(
      callExpr(callee(functionDecl(hasAnyName(names)).bind("creator")),
               forFunction(functionDecl(isDefinition()).bind("fn")),
               unless(isExpansionInSystemHeader()))
          .bind("create"),
      cb);
}

const CFG* LostCancel::cfg_for(const FunctionDecl& fn, ASTContext& ctx) {
  auto it = cfgs_.find(&fn);
  if (it != cfgs_.end()) return it->second.get();
  CFG::BuildOptions opts;
  std::unique_ptr<CFG> cfg = CFG::buildCFG(&fn, fn.getBody(), &ctx, opts);
  return cfgs_.emplace(&fn, std::move(cfg)).first->second.get();
}

void LostCancel::run(const MatchFinder::MatchResult& result, Reporter& out) {
  const auto* create = result.Nodes.getNodeAs<CallExpr>("create");
  const auto* creator = result.Nodes.getNodeAs<FunctionDecl>("creator");
  const auto* fn = result.Nodes.getNodeAs<FunctionDecl>("fn");
  if (create == nullptr || creator == nullptr || fn == nullptr || fn->getBody() == nullptr) return;
  // Templates are judged in each instantiation (the Reporter keeps one report per site).
  if (fn->isDependentContext()) return;
  ASTContext& ctx = *result.Context;
  const SourceManager& sm = ctx.getSourceManager();
  std::string creator_name = "ctxscope::" + creator->getNameAsString();

  Classification c = classify(*create, ctx);
  if (c.fate == Fate::escapes) return;
  if (c.fate == Fate::discarded) {
    out.report(ctx, {Rule::lost_cancel, create->getBeginLoc(),
                     "the cancel function returned by " + creator_name +
                         " should be called, not discarded, to avoid a context leak (" + c.why + ")",
                     {}});
    return;
  }

  std::string name = c.var->getNameAsString();
  UseFinder finder(c, ctx);
  unsigned def_line = sm.getExpansionLineNumber(create->getBeginLoc());
  // An unused structured binding is Go's `_`: discarded, whatever the paths.
  if (isa<BindingDecl>(c.var) && !finder.uses(fn->getBody())) {
    out.report(ctx, {Rule::lost_cancel, create->getBeginLoc(),
                     "the cancel function '" + name + "' returned by " + creator_name +
                         " is never used; call it or hand it to ctxscope::defer to avoid a context leak",
                     {}});
    return;
  }

  const CFG* cfg = cfg_for(*fn, ctx);
  if (cfg == nullptr) return;
  PathSearch search(*cfg, *fn, ctx, calls_may_throw_);
  std::optional<Leak> leak = search.search(c, create->getBeginLoc());
  if (!leak) return;
  const PathEnd* end = &leak->end;

  std::string where, note;
  std::string held = name;
  std::string moved;
  for (const std::string& m : leak->moved_into) {
    moved += (moved.empty() ? "moved into '" : ", then into '") + m + "'";
    held = m;
  }
  std::string defined = "'" + name + "' defined on line " + std::to_string(def_line);
  if (!moved.empty()) defined += " (" + moved + ")";
  unsigned end_line = sm.getExpansionLineNumber(end->loc);
  switch (end->kind) {
    case PathEnd::returned:
      where = "the return on line " + std::to_string(end_line) + " may be reached without using it";
      note = "this return statement may be reached without using the cancel var " + defined;
      break;
    case PathEnd::call_threw:
      where = "an exception thrown by the call on line " + std::to_string(end_line) +
              " may leave the function without using it";
      note = "an exception from this call may leave the function without using the cancel var " + defined;
      break;
    case PathEnd::thrown:
      where = "the exception thrown on line " + std::to_string(end_line) + " may leave the function without using it";
      note = "this exception may leave the function without using the cancel var " + defined;
      break;
    case PathEnd::fell_off:
      where = "the end of the function on line " + std::to_string(end_line) + " may be reached without using it";
      note = "the end of the function may be reached without using the cancel var " + defined;
      break;
    case PathEnd::next_iteration:
      where = "the next loop iteration may overwrite it before it is used";
      note = "the next loop iteration may redefine the cancel var " + defined + " before it is used";
      break;
    case PathEnd::overwritten:
      where = "'" + held + "' is overwritten on line " + std::to_string(end_line) + " before it is used";
      note = "this assignment overwrites the cancel var " + defined + " before it is used";
      break;
  }
  if (!moved.empty()) where = "it is " + moved + ", and " + where;
  out.report(ctx, {Rule::lost_cancel, create->getBeginLoc(),
                   "the cancel function '" + name + "' is not used on all paths (possible context leak): " + where,
                   {{end->loc, note}}});
}

}  // namespace ctxscope::lint
