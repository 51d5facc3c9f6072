// ctxscope-lint: the static half of ctxscope's rules.
//
//   ctxscope-lint [-p <build-dir>] [--format text|sarif] [-o <file>] [files...] [-- compiler args]
//
// Exit status: 0 no findings, 1 findings, 2 usage or input error (no
// compilation database, a missing file, a file that does not compile).
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "Diagnostic.h"
#include "LintDriver.h"
#include "Report.h"
#include "TraceMatch.h"
#include "ctxscope/analysis/report.hpp"
#include "ctxscope/version.hpp"
#include "clang/Tooling/CompilationDatabase.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

namespace {

using namespace ctxscope::lint;
using clang::tooling::CompilationDatabase;
using clang::tooling::FixedCompilationDatabase;

constexpr const char* kUsageHead =
    "usage: ctxscope-lint [-p <build-dir>] [--format text|sarif] [-o <file>] [--trace <trace.db>]\n"
    "                     [--calls-may-throw] [files...] [-- <compiler args>]\n"
    "\n"
    "Static checks for ctxscope code, with the rule ids of the trace analyzer:\n";
constexpr const char* kUsage =
    "\n"
    "  -p <dir>        directory holding compile_commands.json (default: search\n"
    "                  upwards from the first file, or from the working directory)\n"
    "  --format <f>    text (default, compiler-style) or sarif (SARIF 2.1.0)\n"
    "  -o <file>       write the report to <file> instead of stdout\n"
    "  --trace <db>    side by side with a recorded run: each finding says how often\n"
    "                  the trace analyzer saw it at that line (or not reached), and\n"
    "                  the runtime findings the static checks cannot see are listed\n"
    "  --calls-may-throw  lost-cancel: every call that is not noexcept may also\n"
    "                  leave the function by an exception (off: only throw does)\n"
    "  files           translation units to analyze (default: every one in the database)\n"
    "  -- <args>       compiler arguments: without -p, used instead of a database;\n"
    "                  with -p, appended to every command\n"
    "\n"
    "Suppress a finding with // NOLINT(ctxscope-<rule>) on its line.\n"
    "Exit status: 0 no findings, 1 findings, 2 usage or input error.\n";

int usage_error(const std::string& what) {
  std::cerr << "ctxscope-lint: error: " << what << "\n(run ctxscope-lint --help for usage)\n";
  return 2;
}

std::string absolute(const std::string& p) {
  llvm::SmallString<256> abs(p);
  llvm::sys::fs::make_absolute(abs);
  llvm::sys::path::remove_dots(abs, /*remove_dot_dot=*/true);
  return std::string(abs);
}

std::string find_resource_dir() {
  // Environment first: lets an installed binary follow a moved LLVM.
  for (const char* cand : {static_cast<const char*>(std::getenv("CTXSCOPE_LINT_RESOURCE_DIR")), CTXSCOPE_CLANG_RESOURCE_DIR}) {
    if (cand == nullptr || *cand == '\0') continue;
    llvm::SmallString<256> stddef(cand);
    llvm::sys::path::append(stddef, "include", "stddef.h");
    if (llvm::sys::fs::exists(stddef)) return cand;
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  std::string build_path, format = "text", output, trace_path;
  bool have_build_path = false, have_dashdash = false, calls_may_throw = false;
  std::vector<std::string> files, extra_args;

  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& flag) -> const char* {
      if (a.size() > flag.size() && a.compare(0, flag.size() + 1, flag + "=") == 0)
        return argv[i] + flag.size() + 1;
      if (a == flag && i + 1 < argc) return argv[++i];
      return nullptr;
    };
    if (have_dashdash) {
      extra_args.push_back(a);
    } else if (a == "--") {
      have_dashdash = true;
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsageHead;
      for (const auto* r : kRules) std::cout << "  " << r->id << ": " << r->lint << "\n";
      std::cout << kUsage;
      return 0;
    } else if (a == "--version") {
      std::cout << "ctxscope-lint " << CTXSCOPE_VERSION << " (Clang LibTooling)\n";
      return 0;
    } else if (a == "-p" || a.rfind("-p=", 0) == 0 || a == "--p" || a.rfind("--p=", 0) == 0) {
      const char* v = value(a.rfind("--", 0) == 0 ? "--p" : "-p");
      if (v == nullptr) return usage_error("-p needs a directory");
      build_path = v;
      have_build_path = true;
    } else if (a == "--format" || a.rfind("--format=", 0) == 0) {
      const char* v = value("--format");
      if (v == nullptr) return usage_error("--format needs text or sarif");
      format = v;
      if (format != "text" && format != "sarif") return usage_error("unknown format '" + format + "' (text or sarif)");
    } else if (a == "-o" || a == "--output" || a.rfind("--output=", 0) == 0) {
      const char* v = value(a == "-o" ? "-o" : "--output");
      if (v == nullptr) return usage_error(a + " needs a file name");
      output = v;
    } else if (a == "--trace" || a.rfind("--trace=", 0) == 0) {
      const char* v = value("--trace");
      if (v == nullptr) return usage_error("--trace needs a trace file (CTXSCOPE_TRACE=... of a run)");
      trace_path = v;
    } else if (a == "--calls-may-throw") {
      calls_may_throw = true;
    } else if (!a.empty() && a[0] == '-') {
      return usage_error("unknown option '" + a + "'");
    } else {
      files.push_back(a);
    }
  }

  std::string resource_dir = find_resource_dir();
  if (resource_dir.empty())
    return usage_error(std::string("Clang's resource directory (builtin headers) not found at ") +
                       CTXSCOPE_CLANG_RESOURCE_DIR + "; set CTXSCOPE_LINT_RESOURCE_DIR");

  std::unique_ptr<CompilationDatabase> db;
  std::string err;
  if (have_build_path) {
    std::string dir = absolute(build_path);
    db = CompilationDatabase::loadFromDirectory(dir, err);
    if (!db)
      return usage_error("no compilation database in '" + dir + "' (looked for " + dir +
                         "/compile_commands.json); configure the project with "
                         "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON or point -p at its build directory");
  } else if (have_dashdash) {
    db = std::make_unique<FixedCompilationDatabase>(".", extra_args);
    extra_args.clear();  // already the command
  } else {
    std::string from = files.empty() ? absolute(".") : absolute(files.front());
    db = files.empty() ? CompilationDatabase::autoDetectFromDirectory(from, err)
                       : CompilationDatabase::autoDetectFromSource(from, err);
    if (!db) {
      std::string dir = files.empty() ? from : std::string(llvm::sys::path::parent_path(from));
      return usage_error("no compile_commands.json found in '" + dir +
                         "' or any parent directory; pass -p <build-dir>, or compiler arguments after '--'");
    }
  }

  LintInput in;
  in.database = db.get();
  in.resource_dir = resource_dir;
  in.extra_args = extra_args;
  in.calls_may_throw = calls_may_throw;
  if (files.empty()) {
    for (const std::string& f : db->getAllFiles()) {
      in.files.push_back(f);
      in.shown_as.push_back(f);
    }
    if (in.files.empty()) return usage_error("no files given and the compilation database lists none");
  } else {
    for (const std::string& f : files) {
      in.files.push_back(absolute(f));
      in.shown_as.push_back(f);
    }
  }

  // The trace first: a bad one is a usage error before minutes of parsing.
  ctxscope::analysis::Report trace_report;
  if (!trace_path.empty()) {
    std::string terr;
    if (!load_trace(trace_path, trace_report, terr)) return usage_error("cannot analyse the trace: " + terr);
  }

  LintRun run = lint(in);
  TraceComparison cmp;
  if (!trace_path.empty()) cmp = compare_with_trace(run.findings, trace_report, trace_path);
  const TraceComparison* side = trace_path.empty() ? nullptr : &cmp;

  std::ofstream file_out;
  if (!output.empty()) {
    file_out.open(output);
    if (!file_out) return usage_error("cannot write '" + output + "'");
  }
  std::ostream& out = output.empty() ? std::cout : file_out;
  if (format == "sarif")
    write_sarif(out, run.findings, CTXSCOPE_VERSION, side);
  else
    write_text(out, run.findings, side);
  out.flush();

  if (run.input_errors > 0) return 2;
  return run.findings.empty() ? 0 : 1;
}
