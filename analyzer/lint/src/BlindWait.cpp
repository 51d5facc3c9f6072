#include "BlindWait.h"

#include <functional>
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

// --- Contexts that can never be done -----------------------------------------
// background(), todo(), without_cancel(x), a default-constructed Context (which
// is background) and with_value(p, ...) of such a p are never done: a wait has
// nothing to observe, so waiting blindly with only those in scope is not a bug.
// Judged for locals only, from their initializer, and only when nothing
// assigns to them afterwards; a parameter or a captured parameter may be done.

bool never_done_expr(const Expr* e, int depth);

const FunctionDecl* enclosing_function(const VarDecl& vd) {
  const DeclContext* dc = vd.getParentFunctionOrMethod();
  return dc ? dyn_cast<FunctionDecl>(dc) : nullptr;
}

// Is `vd` assigned (ctx = x, std::tie(ctx, ...) = x) or handed out by
// non-const reference anywhere in its function?  Then its value is not just
// its initializer's.
bool reassigned(const VarDecl& vd) {
  const FunctionDecl* fn = enclosing_function(vd);
  if (fn == nullptr || fn->getBody() == nullptr) return true;
  bool found = false;
  std::function<void(const Stmt*)> walk = [&](const Stmt* s) {
    if (s == nullptr || found) return;
    if (const auto* op = dyn_cast<CXXOperatorCallExpr>(s); op != nullptr && op->isAssignmentOp()) {
      const Expr* lhs = op->getArg(0)->IgnoreParenImpCasts();
      if (const auto* r = dyn_cast<DeclRefExpr>(lhs); r != nullptr && r->getDecl() == &vd) found = true;
      if (const auto* tie = dyn_cast<CallExpr>(lhs))
        for (const Expr* a : tie->arguments())
          if (const auto* r = dyn_cast<DeclRefExpr>(a->IgnoreParenImpCasts()); r != nullptr && r->getDecl() == &vd)
            found = true;
    }
    if (const auto* call = dyn_cast<CallExpr>(s))
      if (const FunctionDecl* callee = call->getDirectCallee())
        for (unsigned i = 0; i < call->getNumArgs() && i < callee->getNumParams(); ++i) {
          QualType pt = callee->getParamDecl(i)->getType();
          if (!pt->isReferenceType() || pt.getNonReferenceType().isConstQualified()) continue;
          if (const auto* r = dyn_cast<DeclRefExpr>(call->getArg(i)->IgnoreParenImpCasts()); r != nullptr && r->getDecl() == &vd)
            found = true;
        }
    for (const Stmt* c : s->children()) walk(c);
  };
  walk(fn->getBody());
  return found;
}

bool never_done_decl(const ValueDecl* d, int depth) {
  const auto* vd = dyn_cast_or_null<VarDecl>(d);
  if (vd == nullptr || isa<ParmVarDecl>(vd) || depth > 8) return false;
  if (!vd->hasLocalStorage() && !vd->isStaticLocal()) return false;
  if (vd->getType()->isReferenceType() && vd->getType().getNonReferenceType().isConstQualified() == false)
    return false;
  if (!vd->hasInit() || reassigned(*vd)) return false;
  return never_done_expr(vd->getInit(), depth + 1);
}

bool never_done_expr(const Expr* e, int depth) {
  if (e == nullptr || depth > 8) return false;
  for (;;) {
    e = e->IgnoreParenImpCasts();
    if (const auto* fe = dyn_cast<FullExpr>(e)) { e = fe->getSubExpr(); continue; }
    if (const auto* mt = dyn_cast<MaterializeTemporaryExpr>(e)) { e = mt->getSubExpr(); continue; }
    if (const auto* bt = dyn_cast<CXXBindTemporaryExpr>(e)) { e = bt->getSubExpr(); continue; }
    if (const auto* ce = dyn_cast<CXXConstructExpr>(e)) {
      if (ce->getNumArgs() == 0) return is_context_type(ce->getType());  // Context{}: background
      if (ce->getConstructor()->isCopyOrMoveConstructor()) { e = ce->getArg(0); continue; }
      return false;
    }
    break;
  }
  if (const auto* ref = dyn_cast<DeclRefExpr>(e)) return never_done_decl(ref->getDecl(), depth + 1);
  if (const auto* call = dyn_cast<CallExpr>(e)) {
    const FunctionDecl* fn = call->getDirectCallee();
    if (fn == nullptr) return false;
    std::string name = fn->getQualifiedNameAsString();
    if (name == "ctxscope::background" || name == "ctxscope::todo" || name == "ctxscope::without_cancel") return true;
    if (name == "ctxscope::with_value" && call->getNumArgs() >= 1) return never_done_expr(call->getArg(0), depth + 1);
  }
  return false;
}

// A Context declared by `d` (a variable or a structured binding) that may be
// done some day, or null; `any` is set when `d` declares a Context at all.
const ValueDecl* context_declared_by(const Decl* d, bool& any) {
  if (const auto* dd = dyn_cast<DecompositionDecl>(d)) {
    for (const BindingDecl* b : dd->bindings())
      if (is_context_type(b->getType())) {
        any = true;
        return b;  // a binding of a creator's pair (with_cancel...): cancelable
      }
    return nullptr;
  }
  if (const auto* vd = dyn_cast<VarDecl>(d); vd != nullptr && is_context_type(vd->getType())) {
    any = true;
    return never_done_decl(vd, 0) ? nullptr : vd;
  }
  return nullptr;
}

const ValueDecl* context_in_decl_stmt(const Stmt* s) {
  bool any = false;
  if (const auto* ds = dyn_cast_or_null<DeclStmt>(s))
    for (const Decl* d : ds->decls())
      if (const ValueDecl* v = context_declared_by(d, any)) return v;
  return nullptr;
}

const ValueDecl* context_parameter(const FunctionDecl& fn) {
  for (const ParmVarDecl* p : fn.parameters())
    if (is_context_type(p->getType())) return p;
  return nullptr;
}

std::string name_of(const ValueDecl* d) { return d ? d->getNameAsString() : std::string(); }

// Walks outwards from `call`, scope by scope, to the innermost function; for a
// lambda with a capture-default, on into the function that encloses it.  The
// first Context in scope that may be done names the finding; contexts that
// can never be done are passed over.
std::string context_in_scope(const CallExpr& call, ASTContext& ctx) {
  DynTypedNode cur = DynTypedNode::create(call);
  for (;;) {
    DynTypedNodeList parents = ctx.getParents(cur);
    if (parents.empty()) return {};
    const DynTypedNode& p = parents[0];
    if (const auto* cs = p.get<CompoundStmt>()) {
      // Declarations earlier in this block are in scope.
      for (const Stmt* child : cs->body()) {
        if (DynTypedNode::create(*child) == cur) break;
        if (const ValueDecl* v = context_in_decl_stmt(child)) return name_of(v);
      }
    } else if (const auto* f = p.get<ForStmt>()) {
      if (const ValueDecl* v = context_in_decl_stmt(f->getInit())) return name_of(v);
    } else if (const auto* i = p.get<IfStmt>()) {
      if (const ValueDecl* v = context_in_decl_stmt(i->getInit())) return name_of(v);
      bool any = false;
      if (i->getConditionVariable() != nullptr)
        if (const ValueDecl* v = context_declared_by(i->getConditionVariable(), any)) return name_of(v);
    } else if (const auto* sw = p.get<SwitchStmt>()) {
      if (const ValueDecl* v = context_in_decl_stmt(sw->getInit())) return name_of(v);
    } else if (const auto* r = p.get<CXXForRangeStmt>()) {
      if (const ValueDecl* v = context_in_decl_stmt(r->getInit())) return name_of(v);
      if (const ValueDecl* v = context_in_decl_stmt(r->getLoopVarStmt())) return name_of(v);
    } else if (const auto* lambda = p.get<LambdaExpr>()) {
      if (const ValueDecl* v = context_parameter(*lambda->getCallOperator())) return name_of(v);
      for (const LambdaCapture& cap : lambda->captures())
        if (cap.capturesVariable() && is_context_type(cap.getCapturedVar()->getType()) &&
            !never_done_decl(cap.getCapturedVar(), 0))
          return cap.getCapturedVar()->getNameAsString();
      if (lambda->getCaptureDefault() == LCD_None) return {};
      // [&] / [=]: whatever Context is visible here could be captured.
    } else if (const auto* fn = p.get<FunctionDecl>()) {
      if (const ValueDecl* v = context_parameter(*fn)) return name_of(v);
      // A lambda's call operator: continue to the LambdaExpr through the parent map.
      if (const auto* m = dyn_cast<CXXMethodDecl>(fn); m == nullptr || !m->getParent()->isLambda()) return {};
    }
    cur = p;
  }
}

}  // namespace

void BlindWait::register_matchers(MatchFinder& finder, MatchFinder::MatchCallback* cb) {
  // hasName does not see through class template specializations (Chan<int>),
  // so members are matched by short name and declaring class or template;
  // find_blocking_api() then checks the exact entry.
  std::vector<std::string> classes, methods, functions;
  for (const BlockingApi& api : blocking_apis()) {
    llvm::StringRef q(api.qualified_name);
    auto [scope, name] = q.rsplit("::");
    bool is_class = scope != "::std::this_thread";
    (is_class ? classes : functions).push_back(is_class ? scope.str() : q.str());
    if (is_class) methods.push_back(name.str());
  }
  std::vector<llvm::StringRef> class_refs(classes.begin(), classes.end());
  std::vector<llvm::StringRef> method_refs(methods.begin(), methods.end());
  std::vector<llvm::StringRef> function_refs(functions.begin(), functions.end());
  auto blocking = functionDecl(anyOf(
      hasAnyName(function_refs),
      cxxMethodDecl(hasAnyName(method_refs),
                    ofClass(cxxRecordDecl(anyOf(
                        hasAnyName(class_refs),
                        classTemplateSpecializationDecl(hasSpecializedTemplate(classTemplateDecl(hasAnyName(class_refs))))))))));
  finder.addMatcher(callExpr(callee(blocking.bind("callee")),
                             forFunction(functionDecl(isDefinition()).bind("fn")),
                             unless(isExpansionInSystemHeader()))
                        .bind("call"),
                    cb);
}

void BlindWait::run(const MatchFinder::MatchResult& result, Reporter& out) {
  const auto* call = result.Nodes.getNodeAs<CallExpr>("call");
  const auto* callee = result.Nodes.getNodeAs<FunctionDecl>("callee");
  const auto* fn = result.Nodes.getNodeAs<FunctionDecl>("fn");
  if (call == nullptr || callee == nullptr || fn == nullptr) return;
  if (fn->isDependentContext()) return;  // judged in each instantiation
  if (takes_context(*callee) || takes_stop_token(*callee)) return;  // the ctx-aware overloads
  const BlockingApi* api = find_blocking_api(*callee);
  if (api == nullptr) return;
  ASTContext& ctx = *result.Context;
  std::string ctx_name = context_in_scope(*call, ctx);
  if (ctx_name.empty()) return;
  out.report(ctx, {Rule::blind_wait, call->getExprLoc(),
                   "blocking call '" + api->display + "' cannot observe the context '" + ctx_name +
                       "' in scope; use " + api->instead,
                   {}});
}

}  // namespace ctxscope::lint
