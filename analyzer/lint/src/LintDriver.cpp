#include "LintDriver.h"

#include <algorithm>
#include <set>

#include "BlindWait.h"
#include "Diagnostic.h"
#include "LostCancel.h"
#include "clang/AST/DeclCXX.h"
#include "clang/Basic/DiagnosticSema.h"
#include "clang/Basic/SourceManager.h"
#include "clang/Frontend/TextDiagnosticPrinter.h"
#include "clang/Frontend/FrontendActions.h"
#include "clang/Tooling/ArgumentsAdjusters.h"
#include "clang/Tooling/Tooling.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

namespace ctxscope::lint {

using namespace clang;
using namespace clang::ast_matchers;
using namespace clang::tooling;

namespace {

#include "compat_header.inc"

// A path no real file has: the compat header exists only in the tool's
// in-memory overlay.
constexpr const char* kCompatPath = "/__ctxscope_lint__/clang14_compat.h";

// Collects the findings of the main file of one translation unit.
class CollectingReporter : public Reporter {
 public:
  std::string shown_as;
  std::vector<Finding> found;

 protected:
  void emit(const ASTContext& ctx, const Diagnostic& d) override {
    const SourceManager& sm = ctx.getSourceManager();
    if (!sm.isInMainFile(d.loc)) return;  // headers are reported when they are analyzed themselves
    Finding f{rule_id(d.rule), position(sm, d.loc), d.message, {}};
    for (const Note& n : d.notes) f.notes.push_back({position(sm, n.loc), n.message});
    found.push_back(std::move(f));
  }

 private:
  Position position(const SourceManager& sm, SourceLocation loc) const {
    Position p;
    p.file = sm.isInMainFile(loc) ? shown_as : sm.getFilename(loc).str();
    p.line = sm.getExpansionLineNumber(loc);
    p.column = sm.getExpansionColumnNumber(loc);
    return p;
  }
};

template <class RuleT>
class RuleCallback : public MatchFinder::MatchCallback {
 public:
  explicit RuleCallback(Reporter& out) : out_(out) {}
  void run(const MatchFinder::MatchResult& result) override { rule_.run(result, out_); }
  void onStartOfTranslationUnit() override {
    out_.reset();
    rule_.reset();
  }
  void onEndOfTranslationUnit() override { rule_.reset(); }
  RuleT& rule() { return rule_; }

 private:
  RuleT rule_;
  Reporter& out_;
};

// The database, with a default command for files it does not list.
class DefaultingDatabase : public CompilationDatabase {
 public:
  explicit DefaultingDatabase(const CompilationDatabase& base) : base_(base) {}
  std::vector<CompileCommand> getCompileCommands(StringRef file) const override {
    std::vector<CompileCommand> cmds = base_.getCompileCommands(file);
    if (!cmds.empty()) return cmds;
    CompileCommand c;
    c.Directory = llvm::sys::path::parent_path(file).str();
    c.Filename = file.str();
    c.CommandLine = {"clang++", "-std=c++20", file.str()};
    return {c};
  }
  std::vector<std::string> getAllFiles() const override { return base_.getAllFiles(); }

 private:
  const CompilationDatabase& base_;
};

// Prints the compiler's diagnostics, except the errors Clang 14 raises for
// valid C++20 it does not implement yet: capturing a structured binding in a
// lambda (P1091R3/P1381R1, Clang 16).  Sema still records the reference, so
// the checks see the capture as a use; counting it as an error would reject
// correct code (the samples do this).
class Clang14Tolerance : public DiagnosticConsumer {
 public:
  explicit Clang14Tolerance(DiagnosticConsumer& next) : next_(next) {}
  void BeginSourceFile(const LangOptions& lo, const Preprocessor* pp) override { next_.BeginSourceFile(lo, pp); }
  void EndSourceFile() override { next_.EndSourceFile(); }
  void finish() override { next_.finish(); }
  void clear() override {
    DiagnosticConsumer::clear();
    next_.clear();
  }
  void HandleDiagnostic(DiagnosticsEngine::Level level, const clang::Diagnostic& info) override {
    if (level == DiagnosticsEngine::Note && dropping_notes_) return;  // notes of a tolerated error
    dropping_notes_ = captures_a_binding(info);
    if (dropping_notes_) return;
    DiagnosticConsumer::HandleDiagnostic(level, info);  // counts errors
    next_.HandleDiagnostic(level, info);
  }

 private:
  static bool captures_a_binding(const clang::Diagnostic& info) {
    // The capture's name is all the diagnostic carries; in valid code the only
    // local name that is not a variable is a binding.
    if (info.getID() == diag::err_capture_does_not_name_variable) return true;
    if (info.getID() == diag::err_reference_to_local_in_enclosing_context && info.getNumArgs() > 1 &&
        info.getArgKind(1) == DiagnosticsEngine::ak_uint)
      return info.getRawArg(1) == 1;  // %select{variable|binding}
    return false;
  }
  DiagnosticConsumer& next_;
  bool dropping_notes_ = false;
};

}  // namespace

LintRun lint(const LintInput& in) {
  LintRun run;
  DefaultingDatabase db(*in.database);

  CollectingReporter reporter;
  RuleCallback<LostCancel> lost_cancel(reporter);
  RuleCallback<BlindWait> blind_wait(reporter);
  MatchFinder finder;
  lost_cancel.rule().set_calls_may_throw(in.calls_may_throw);
  lost_cancel.rule().register_matchers(finder, &lost_cancel);
  blind_wait.rule().register_matchers(finder, &blind_wait);
  std::unique_ptr<FrontendActionFactory> factory = newFrontendActionFactory(&finder);

  std::set<std::string> listed;
  for (const std::string& f : in.database->getAllFiles()) {
    llvm::SmallString<256> norm(f);
    llvm::sys::path::remove_dots(norm, true);
    listed.insert(std::string(norm));
  }
  bool fixed_database = listed.empty();  // `-- args`: every file is "listed"

  for (size_t i = 0; i < in.files.size(); ++i) {
    const std::string& file = in.files[i];
    const std::string& shown = in.shown_as[i];
    if (!llvm::sys::fs::exists(file)) {
      llvm::errs() << "ctxscope-lint: error: " << shown << ": no such file\n";
      ++run.input_errors;
      continue;
    }
    if (!fixed_database && !listed.count(file)) {
      // JSON databases infer a command for unlisted files from the nearest
      // listed one (as clangd does); otherwise the defaults apply.
      std::vector<CompileCommand> inferred = in.database->getCompileCommands(file);
      std::string how = inferred.empty() || inferred.front().Heuristic.empty()
                            ? std::string("-std=c++20")
                            : inferred.front().Heuristic;
      llvm::errs() << "ctxscope-lint: warning: " << shown
                   << " is not in the compilation database; analyzing it with default flags (" << how << ")\n";
    }

    ClangTool tool(db, {file});
    tool.mapVirtualFile(kCompatPath, kCompatHeader);
    // Builtin headers first, so a -resource-dir in the command still wins;
    // the compat header before any user -include.
    tool.appendArgumentsAdjuster(getInsertArgumentAdjuster(
        {"-resource-dir=" + in.resource_dir, "-include", kCompatPath}, ArgumentInsertPosition::BEGIN));
    // The project's own warnings are not ours to print; unknown GCC-only
    // warning flags must not fail the parse.
    CommandLineArguments tail = {"-w", "-Wno-unknown-warning-option"};
    tail.insert(tail.end(), in.extra_args.begin(), in.extra_args.end());
    tool.appendArgumentsAdjuster(getInsertArgumentAdjuster(tail, ArgumentInsertPosition::END));

    TextDiagnosticPrinter printer(llvm::errs(), new DiagnosticOptions());
    Clang14Tolerance diagnostics(printer);
    tool.setDiagnosticConsumer(&diagnostics);

    reporter.shown_as = shown;
    reporter.found.clear();
    int rc = tool.run(factory.get());
    if (rc != 0) {
      llvm::errs() << "ctxscope-lint: error: " << shown << ": does not compile; its findings are not reported\n";
      ++run.input_errors;
      continue;
    }
    run.findings.insert(run.findings.end(), reporter.found.begin(), reporter.found.end());
  }
  std::stable_sort(run.findings.begin(), run.findings.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.at.file, a.at.line, a.at.column, a.rule) < std::tie(b.at.file, b.at.line, b.at.column, b.rule);
  });
  return run;
}

}  // namespace ctxscope::lint
