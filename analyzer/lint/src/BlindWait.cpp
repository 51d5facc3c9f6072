#include "BlindWait.h"

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

// The name of a Context declared by `d` (a variable or a structured binding), or "".
std::string context_declared_by(const Decl* d) {
  if (const auto* dd = dyn_cast<DecompositionDecl>(d)) {
    for (const BindingDecl* b : dd->bindings())
      if (is_context_type(b->getType())) return b->getNameAsString();
    return {};
  }
  if (const auto* vd = dyn_cast<VarDecl>(d); vd != nullptr && is_context_type(vd->getType()))
    return vd->getNameAsString();
  return {};
}

std::string context_in_decl_stmt(const Stmt* s) {
  if (const auto* ds = dyn_cast_or_null<DeclStmt>(s))
    for (const Decl* d : ds->decls())
      if (std::string n = context_declared_by(d); !n.empty()) return n;
  return {};
}

std::string context_parameter(const FunctionDecl& fn) {
  for (const ParmVarDecl* p : fn.parameters())
    if (is_context_type(p->getType())) return p->getNameAsString();
  return {};
}

// Walks outwards from `call`, scope by scope, to the innermost function; for a
// lambda with a capture-default, on into the function that encloses it.
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
        if (std::string n = context_in_decl_stmt(child); !n.empty()) return n;
      }
    } else if (const auto* f = p.get<ForStmt>()) {
      if (std::string n = context_in_decl_stmt(f->getInit()); !n.empty()) return n;
    } else if (const auto* i = p.get<IfStmt>()) {
      if (std::string n = context_in_decl_stmt(i->getInit()); !n.empty()) return n;
      if (i->getConditionVariable() != nullptr)
        if (std::string n = context_declared_by(i->getConditionVariable()); !n.empty()) return n;
    } else if (const auto* sw = p.get<SwitchStmt>()) {
      if (std::string n = context_in_decl_stmt(sw->getInit()); !n.empty()) return n;
    } else if (const auto* r = p.get<CXXForRangeStmt>()) {
      if (std::string n = context_in_decl_stmt(r->getInit()); !n.empty()) return n;
      if (std::string n = context_in_decl_stmt(r->getLoopVarStmt()); !n.empty()) return n;
    } else if (const auto* lambda = p.get<LambdaExpr>()) {
      if (std::string n = context_parameter(*lambda->getCallOperator()); !n.empty()) return n;
      for (const LambdaCapture& cap : lambda->captures())
        if (cap.capturesVariable() && is_context_type(cap.getCapturedVar()->getType()))
          return cap.getCapturedVar()->getNameAsString();
      if (lambda->getCaptureDefault() == LCD_None) return {};
      // [&] / [=]: whatever Context is visible here could be captured.
    } else if (const auto* fn = p.get<FunctionDecl>()) {
      if (std::string n = context_parameter(*fn); !n.empty()) return n;
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
