// clang-tidy front end: the same rules as ctxscope-lint, as the checks
// ctxscope-lost-cancel and ctxscope-blind-wait.
//
//   clang-tidy --load=libctxscope-tidy.so -checks='-*,ctxscope-*' file.cpp
//
// clang-tidy owns NOLINT handling and output; the shared Reporter's own
// NOLINT filter agrees with it, so both front ends suppress the same lines.
#include "BlindWait.h"
#include "Diagnostic.h"
#include "LostCancel.h"
#include "clang-tidy/ClangTidyCheck.h"
#include "clang-tidy/ClangTidyModule.h"
#include "clang-tidy/ClangTidyModuleRegistry.h"

namespace ctxscope::lint {
namespace {

using namespace clang;
using namespace clang::tidy;

template <class RuleT>
class TidyCheck : public ClangTidyCheck {
 public:
  TidyCheck(StringRef name, ClangTidyContext* context) : ClangTidyCheck(name, context), out_(*this) {}
  bool isLanguageVersionSupported(const LangOptions& lang) const override { return lang.CPlusPlus20; }
  void registerMatchers(ast_matchers::MatchFinder* finder) override { rule_.register_matchers(*finder, this); }
  void check(const ast_matchers::MatchFinder::MatchResult& result) override { rule_.run(result, out_); }
  void onEndOfTranslationUnit() override {
    out_.reset();
    rule_.reset();
  }

 private:
  class Out : public Reporter {
   public:
    explicit Out(TidyCheck& check) : check_(check) {}

   protected:
    void emit(const ASTContext&, const Diagnostic& d) override {
      check_.diag(d.loc, escape(d.message));
      for (const Note& n : d.notes) check_.diag(n.loc, escape(n.message), DiagnosticIDs::Note);
    }

   private:
    // diag() takes a format string: a literal '%' must be doubled.
    static std::string escape(const std::string& s) {
      std::string r;
      for (char c : s) {
        if (c == '%') r += '%';
        r += c;
      }
      return r;
    }
    TidyCheck& check_;
  };

  RuleT rule_;
  Out out_;
};

class CtxscopeTidyModule : public ClangTidyModule {
 public:
  void addCheckFactories(ClangTidyCheckFactories& factories) override {
    factories.registerCheck<TidyCheck<LostCancel>>(check_name(Rule::lost_cancel));
    factories.registerCheck<TidyCheck<BlindWait>>(check_name(Rule::blind_wait));
  }
};

}  // namespace
}  // namespace ctxscope::lint

static clang::tidy::ClangTidyModuleRegistry::Add<ctxscope::lint::CtxscopeTidyModule> kCtxscopeModule(
    "ctxscope-module", "ctxscope: lost-cancel and blind-wait.");
