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

// Recognises uses of the tracked variable.
class UseFinder {
 public:
  UseFinder(const Classification& c) : c_(c) {
    // References inside the defining statement (std::tie(ctx, cancel) = ...) are the definition.
    if (c.def_stmt != nullptr)
      any_stmt(c.def_stmt, [&](const Stmt* s) {
        if (const auto* r = dyn_cast<DeclRefExpr>(s)) defining_.insert(r);
        return false;
      });
  }

  bool uses(const Stmt* root) const {
    bool found = false;
    use_walk(root, found);
    return found;
  }

 private:
  void use_walk(const Stmt* s, bool& found) const {
    if (s == nullptr || found) return;
    if (const auto* me = dyn_cast<MemberExpr>(s); me != nullptr && c_.whole_pair) {
      const auto* base = dyn_cast<DeclRefExpr>(me->getBase()->IgnoreParenImpCasts());
      if (base != nullptr && base->getDecl() == c_.var && !defining_.count(base)) {
        // p.first is the context: only a use of the pair as a whole or of .second counts.
        found = me->getMemberDecl()->getName() != "first";
        return;
      }
    }
    if (const auto* ref = dyn_cast<DeclRefExpr>(s)) {
      if (ref->getDecl() == c_.var && !defining_.count(ref)) found = true;
      return;
    }
    if (const auto* lambda = dyn_cast<LambdaExpr>(s)) {
      for (const LambdaCapture& cap : lambda->captures())
        if (cap.capturesVariable() && cap.getCapturedVar() == c_.var) {
          found = true;
          return;
        }
      for (const Expr* init : lambda->capture_inits()) use_walk(init, found);
      use_walk(lambda->getBody(), found);
      return;
    }
    for (const Stmt* child : s->children()) use_walk(child, found);
  }

  const Classification& c_;
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
  enum Kind { returned, thrown, fell_off, next_iteration } kind;
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
  UseFinder finder(c);
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

  // The definition: the element that binds the variable.
  const CFGBlock* def_block = nullptr;
  unsigned def_index = 0;
  for (const CFGBlock* b : *cfg) {
    unsigned i = 0;
    for (const CFGElement& e : *b) {
      if (const Stmt* s = element_stmt(e); s != nullptr && defines(s, c)) {
        def_block = b;
        def_index = i;
      }
      ++i;
    }
  }
  if (def_block == nullptr) return;  // unreachable code, or a shape the CFG does not show

  auto block_uses = [&](const CFGBlock& b, unsigned from, unsigned to) {
    unsigned i = 0;
    for (const CFGElement& e : b) {
      if (i >= from && i < to)
        if (const Stmt* s = element_stmt(e); s != nullptr && finder.uses(s)) return true;
      ++i;
    }
    return false;
  };

  // Depth-first search from the definition for a path to the exit that never
  // passes through a use.
  std::optional<PathEnd> end;
  std::set<const CFGBlock*> seen;
  std::vector<const CFGBlock*> stack;
  auto leave = [&](const CFGBlock& b) -> bool {
    if (b.hasNoReturnElement()) return false;  // abort(), exit(): not a leak path
    for (const CFGBlock::AdjacentBlock& s : b.succs()) {
      const CFGBlock* next = s.getReachableBlock();
      if (next == nullptr) continue;
      if (next == &cfg->getExit()) {
        end = describe_exit(b, *fn);
        return true;
      }
      stack.push_back(next);
    }
    return false;
  };
  if (!block_uses(*def_block, def_index + 1, def_block->size())) {
    if (!leave(*def_block)) {
      while (!stack.empty() && !end) {
        const CFGBlock* b = stack.back();
        stack.pop_back();
        if (!seen.insert(b).second) continue;
        if (b == def_block) {
          // Back at the definition: the previous value is overwritten (or its
          // scope ended) unless it was used first.
          if (!block_uses(*b, 0, def_index)) end = PathEnd{PathEnd::next_iteration, create->getBeginLoc()};
          continue;
        }
        if (block_uses(*b, 0, b->size())) continue;
        if (leave(*b)) break;
      }
    }
  }
  if (!end) return;

  std::string where, note;
  std::string defined = "'" + name + "' defined on line " + std::to_string(def_line);
  unsigned end_line = sm.getExpansionLineNumber(end->loc);
  switch (end->kind) {
    case PathEnd::returned:
      where = "the return on line " + std::to_string(end_line) + " may be reached without using it";
      note = "this return statement may be reached without using the cancel var " + defined;
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
  }
  out.report(ctx, {Rule::lost_cancel, create->getBeginLoc(),
                   "the cancel function '" + name + "' is not used on all paths (possible context leak): " + where,
                   {{end->loc, note}}});
}

}  // namespace ctxscope::lint
