#include "ApiModel.h"

#include "clang/AST/DeclCXX.h"
#include "clang/AST/DeclTemplate.h"

namespace ctxscope::lint {

const std::vector<std::string>& cancel_creators() {
  static const std::vector<std::string> names = {
      "::ctxscope::with_cancel",         "::ctxscope::with_timeout",
      "::ctxscope::with_deadline",       "::ctxscope::with_cancel_cause",
      "::ctxscope::with_deadline_cause", "::ctxscope::with_timeout_cause",
  };
  return names;
}

namespace {
bool is_record_named(clang::QualType t, llvm::StringRef qualified) {
  if (t.isNull()) return false;
  t = t.getNonReferenceType().getUnqualifiedType();
  const auto* rd = t->getAsCXXRecordDecl();
  return rd != nullptr && rd->getQualifiedNameAsString() == qualified;
}
}  // namespace

bool is_context_type(clang::QualType t) { return is_record_named(t, "ctxscope::Context"); }

bool takes_context(const clang::FunctionDecl& fn) {
  for (const clang::ParmVarDecl* p : fn.parameters())
    if (is_context_type(p->getType())) return true;
  return false;
}

bool takes_stop_token(const clang::FunctionDecl& fn) {
  for (const clang::ParmVarDecl* p : fn.parameters())
    if (is_record_named(p->getType(), "std::stop_token")) return true;
  return false;
}

const std::vector<BlockingApi>& blocking_apis() {
  static const std::vector<BlockingApi> apis = {
      {"::ctxscope::Chan::send", "Chan::send", "send(ctx, v)"},
      {"::ctxscope::Chan::recv", "Chan::recv", "recv(ctx)"},
      {"::ctxscope::WaitGroup::wait", "WaitGroup::wait", "wait(ctx)"},
      {"::std::future::get", "std::future::get",
       "deliver the result on a ctxscope::Chan and recv(ctx)"},
      {"::std::shared_future::get", "std::shared_future::get",
       "deliver the result on a ctxscope::Chan and recv(ctx)"},
      {"::std::__basic_future::wait", "std::future::wait",
       "deliver the result on a ctxscope::Chan and recv(ctx)"},
      {"::std::future::wait", "std::future::wait",
       "deliver the result on a ctxscope::Chan and recv(ctx)"},
      {"::std::shared_future::wait", "std::shared_future::wait",
       "deliver the result on a ctxscope::Chan and recv(ctx)"},
      {"::std::condition_variable::wait", "std::condition_variable::wait",
       "std::condition_variable_any::wait(lock, ctx.stop_token(), pred)"},
      {"::std::condition_variable_any::wait", "std::condition_variable_any::wait",
       "wait(lock, ctx.stop_token(), pred)"},
      {"::std::this_thread::sleep_for", "std::this_thread::sleep_for", "ctxscope::sleep_for(ctx, d)"},
      {"::std::this_thread::sleep_until", "std::this_thread::sleep_until",
       "ctxscope::sleep_for(ctx, deadline - Clock::now())"},
      {"::std::thread::join", "std::thread::join",
       "ctxscope::go(ctx, ...) with WaitGroup::wait(ctx), or std::jthread with ctx.stop_token()"},
  };
  return apis;
}

const BlockingApi* find_blocking_api(const clang::FunctionDecl& fn) {
  // Members of class template specializations are named after the template.
  std::string name = "::" + fn.getQualifiedNameAsString();
  if (const auto* m = llvm::dyn_cast<clang::CXXMethodDecl>(&fn)) {
    const clang::CXXRecordDecl* rd = m->getParent();
    if (const auto* spec = llvm::dyn_cast<clang::ClassTemplateSpecializationDecl>(rd))
      rd = spec->getSpecializedTemplate()->getTemplatedDecl();
    name = "::" + rd->getQualifiedNameAsString() + "::" + fn.getNameAsString();
  }
  // libstdc++ puts some of std in inline namespaces (std::__cxx11::...).
  for (const char* inl : {"::std::__cxx11::", "::std::_V2::", "::std::__1::"})
    if (name.rfind(inl, 0) == 0) name = "::std::" + name.substr(std::string(inl).size());
  for (const BlockingApi& api : blocking_apis())
    if (api.qualified_name == name) return &api;
  return nullptr;
}

}  // namespace ctxscope::lint
