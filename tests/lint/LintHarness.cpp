#include "LintHarness.h"

#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <fstream>
#include <regex>
#include <sstream>

namespace ctxscope::lint::test {

namespace fs = std::filesystem;

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

Result run(const std::vector<std::string>& argv) {
  fs::path dir = temp_dir("run");
  fs::path out = dir / "stdout", err = dir / "stderr";
  pid_t pid = fork();
  if (pid == 0) {
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

std::set<LineRule> expectations(const fs::path& file) {
  static const std::regex expect(R"((^|[^-\w])expect:\s*([a-z-]+(\s*,\s*[a-z-]+)*))");
  std::set<LineRule> s;
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    auto comment = line.find("//");
    if (comment == std::string::npos) continue;
    std::smatch m;
    std::string text = line.substr(comment);
    if (!std::regex_search(text, m, expect)) continue;
    std::stringstream rules(m[2].str());
    std::string rule;
    while (std::getline(rules, rule, ',')) {
      rule.erase(0, rule.find_first_not_of(" \t"));
      rule.erase(rule.find_last_not_of(" \t") + 1);
      s.insert({n, rule});
    }
  }
  return s;
}

std::set<LineRule> trace_expectations(const fs::path& file, const std::string& rule) {
  std::set<LineRule> s;
  std::ifstream in(file);
  std::string line;
  // `trace-expect: lost-cancel x2, blind-wait`: a count may follow a rule id.
  const std::regex mark(R"(trace-expect:\s*([a-z0-9, -]+))");
  for (int n = 1; std::getline(in, line); ++n) {
    std::smatch m;
    if (!std::regex_search(line, m, mark)) continue;
    std::stringstream rules(m[1].str());
    std::string r;
    while (std::getline(rules, r, ',')) {
      std::stringstream words(r);
      std::string id;
      words >> id;
      if (id == rule) s.insert({n, rule});
    }
  }
  return s;
}

std::set<LineRule> findings(const std::string& output, const std::string& file_name) {
  static const std::regex finding(R"(^(.*):(\d+):(\d+): (error|warning): .*\[ctxscope-([a-z-]+)(,[^\]]*)?\]$)");
  std::set<LineRule> s;
  std::stringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_match(line, m, finding)) continue;
    if (fs::path(m[1].str()).filename() != file_name) continue;
    s.insert({std::stoi(m[2].str()), m[5].str()});
  }
  return s;
}

std::vector<std::string> compile_args() {
  return {"-std=c++20", "-I" CTXSCOPE_SOURCE_DIR "/runtime/include", "-I" CTXSCOPE_SOURCE_DIR "/runtime/trace_format/include"};
}

namespace {
// Removed when the test binary exits (forked children leave with _exit).
struct TempRoot {
  fs::path path = fs::temp_directory_path() / ("ctxscope-lint-tests-" + std::to_string(getpid()));
  ~TempRoot() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
}  // namespace

fs::path temp_dir(const std::string& name) {
  static int counter = 0;
  static TempRoot root;
  const fs::path& base = root.path;
  fs::path d = base / (name + "-" + std::to_string(counter++));
  fs::create_directories(d);
  return d;
}

std::string describe(const std::set<LineRule>& s) {
  std::string r;
  for (const auto& [line, rule] : s) r += "  line " + std::to_string(line) + ": " + rule + "\n";
  return r.empty() ? "  (none)\n" : r;
}

}  // namespace ctxscope::lint::test
