// clang-tidy front end: the same rules as ctxscope-lint, as the checks
// ctxscope-lost-cancel and ctxscope-blind-wait.
//
//   clang-tidy --load=libctxscope-tidy.so -checks='-*,ctxscope-*' file.cpp
//
// Its findings are errors by default (getModuleOptions: WarningsAsErrors
// 'ctxscope-*'), so clang-tidy exits non-zero on them.
//
// clang-tidy owns NOLINT handling and output; the shared Reporter's own
// NOLINT filter agrees with it, so both front ends suppress the same lines.
#include <type_traits>

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
  TidyCheck(StringRef name, ClangTidyContext* context) : ClangTidyCheck(name, context), out_(*this) {
    if constexpr (std::is_same_v<RuleT, LostCancel>) rule_.set_calls_may_throw(calls_may_throw_option());
  }
  void storeOptions(ClangTidyOptions::OptionMap& opts) override {
    if constexpr (std::is_same_v<RuleT, LostCancel>)
      Options.store(opts, "CallsMayThrow", calls_may_throw_option() ? "true" : "false");
  }
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

  // The string forms only: clang-tidy's executable does not export get<bool>.
  bool calls_may_throw_option() const {
    std::string v = Options.get("CallsMayThrow", "false");
    return v == "true" || v == "True" || v == "1";
  }

  RuleT rule_;
  Out out_;
};

class CtxscopeTidyModule : public ClangTidyModule {
 public:
  void addCheckFactories(ClangTidyCheckFactories& factories) override {
    factories.registerCheck<TidyCheck<LostCancel>>(check_name(Rule::lost_cancel));
    factories.registerCheck<TidyCheck<BlindWait>>(check_name(Rule::blind_wait));
  }
  // clang-tidy exits 0 on warnings: the ctxscope checks are errors by default
  // (the module's default WarningsAsErrors, merged before .clang-tidy files and
  // the command line), so a CI step fails on a finding as ctxscope-lint's
  // exit status 1 does.  Opt out with --warnings-as-errors='-ctxscope-*'.
  ClangTidyOptions getModuleOptions() override {
    ClangTidyOptions opts;
    opts.WarningsAsErrors = "ctxscope-*";
    return opts;
  }
};

}  // namespace
}  // namespace ctxscope::lint

static clang::tidy::ClangTidyModuleRegistry::Add<ctxscope::lint::CtxscopeTidyModule> kCtxscopeModule(
    "ctxscope-module", "ctxscope: lost-cancel and blind-wait.");
