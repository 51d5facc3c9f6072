// Runs the checks over translation units named by a compilation database.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "Finding.h"
#include "clang/Tooling/CompilationDatabase.h"

namespace ctxscope::lint {

struct LintRun {
  std::vector<Finding> findings;
  int input_errors = 0;  ///< missing files, files that do not parse
};

struct LintInput {
  const clang::tooling::CompilationDatabase* database = nullptr;
  std::vector<std::string> files;       ///< absolute paths
  std::vector<std::string> shown_as;    ///< the same files, as to print them
  std::vector<std::string> extra_args;  ///< appended to every command
  std::string resource_dir;             ///< Clang's builtin headers
  bool calls_may_throw = false;         ///< lost-cancel: calls that are not noexcept are exception edges
};

/// Analyzes each file in turn; a file absent from the database is analyzed
/// with default flags after a warning; errors go to stderr.  Findings in a file
/// that does not compile are dropped (the AST is incomplete) and the file
/// counts as an input error.
LintRun lint(const LintInput& in);

}  // namespace ctxscope::lint
