// Running ctxscope-lint / clang-tidy from tests and reading their findings.
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ctxscope::lint::test {

struct Result {
  int exit_code = -1;
  std::string out, err;
};

/// Runs `argv` (no shell), capturing stdout and stderr.
Result run(const std::vector<std::string>& argv);

/// A finding reduced to what the fixtures state: (line, rule id).
using LineRule = std::pair<int, std::string>;

/// `// expect: lost-cancel[, blind-wait]` comments in `file` (not `trace-expect:`).
std::set<LineRule> expectations(const std::filesystem::path& file);
/// Lines marked `// trace-expect: <rule>` (the samples' dynamic expectations).
std::set<LineRule> trace_expectations(const std::filesystem::path& file, const std::string& rule);

/// Findings in compiler-style output (`path:line:col: error|warning: ... [ctxscope-rule]`)
/// whose path ends with `file_name`.
std::set<LineRule> findings(const std::string& output, const std::string& file_name);

/// Compiler arguments for a fixture or sample: C++20 and the runtime headers.
std::vector<std::string> compile_args();

/// A fresh directory under the test temp dir.
std::filesystem::path temp_dir(const std::string& name);

std::string describe(const std::set<LineRule>& s);

}  // namespace ctxscope::lint::test
