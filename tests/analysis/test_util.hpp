// Shared helpers of the analysis tests: temp paths, running the CLI.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "ctxscope/analysis/analyzer.hpp"

namespace ctxscope::testing {

/// A fresh directory for this test (under $CTXSCOPE_TEST_TMP or the system temp dir).
inline std::filesystem::path test_dir() {
  const char* base = std::getenv("CTXSCOPE_TEST_TMP");
  std::filesystem::path root = base && *base ? base : std::filesystem::temp_directory_path() / "ctxscope-tests";
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = root / (std::string(info->test_suite_name()) + "." + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
}

struct CmdResult {
  int code = -1;
  std::string out, err;
};

/// Runs a shell command line; stdout and stderr are captured through files.
inline CmdResult run_cmd(const std::string& cmdline, const std::filesystem::path& dir) {
  const auto out = dir / "cmd.out", err = dir / "cmd.err";
  const std::string full = cmdline + " >'" + out.string() + "' 2>'" + err.string() + "'";
  const int st = std::system(full.c_str());
  CmdResult r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

inline std::string cli() { return CTXSCOPE_CLI; }

/// Analyse a trace file; fails the test on a bad file.
inline analysis::Report analyze_path(const std::filesystem::path& p, const analysis::Options& o = {}) {
  analysis::Report r;
  std::string err;
  EXPECT_TRUE(analysis::analyze_file(p.string(), o, r, &err)) << err;
  return r;
}

}  // namespace ctxscope::testing
