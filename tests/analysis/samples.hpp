// The seven samples as the analysis tests see them (the executables this
// build has; see samples/README.md) and the one way the tests run a sample
// traced and analyse its trace.
#pragma once

#include <string>

#include "test_util.hpp"

namespace ctxscope::testing {

struct Sample {
  const char* name;
  const char* exe;  ///< nullptr when the sample is not part of this build
};
inline void PrintTo(const Sample& s, std::ostream* os) { *os << s.name; }

#ifdef CTXSCOPE_SAMPLE_ci_job
#define S_ci_job CTXSCOPE_SAMPLE_ci_job
#else
#define S_ci_job nullptr
#endif
#ifdef CTXSCOPE_SAMPLE_fanout_timeout
#define S_fanout_timeout CTXSCOPE_SAMPLE_fanout_timeout
#else
#define S_fanout_timeout nullptr
#endif
#ifdef CTXSCOPE_SAMPLE_first_response
#define S_first_response CTXSCOPE_SAMPLE_first_response
#else
#define S_first_response nullptr
#endif
#ifdef CTXSCOPE_SAMPLE_pipeline
#define S_pipeline CTXSCOPE_SAMPLE_pipeline
#else
#define S_pipeline nullptr
#endif
#ifdef CTXSCOPE_SAMPLE_http_premature_cancel
#define S_http_premature_cancel CTXSCOPE_SAMPLE_http_premature_cancel
#else
#define S_http_premature_cancel nullptr
#endif
#ifdef CTXSCOPE_SAMPLE_propagation_tree
#define S_propagation_tree CTXSCOPE_SAMPLE_propagation_tree
#else
#define S_propagation_tree nullptr
#endif
#ifdef CTXSCOPE_SAMPLE_lost_cancel
#define S_lost_cancel CTXSCOPE_SAMPLE_lost_cancel
#else
#define S_lost_cancel nullptr
#endif

inline const Sample kSamples[] = {
    {"ci-job", S_ci_job},
    {"fanout-timeout", S_fanout_timeout},
    {"first-response", S_first_response},
    {"pipeline", S_pipeline},
    {"http-premature-cancel", S_http_premature_cancel},
    {"propagation-tree", S_propagation_tree},
    {"lost-cancel", S_lost_cancel},
};

/// Runs `s` with --mode=`mode`, traced into `dir`/<mode>.db, and analyses the
/// trace; failures (a crash, a hang, a trace without end marker) fail the test.
inline analysis::Report run_sample_traced(const Sample& s, const std::string& mode, const std::filesystem::path& dir) {
  const auto trace = dir / (mode + ".db");
  // Bounded: a sample that hangs must fail this test, not stall the suite.
  const auto r = run_cmd("CTXSCOPE_TRACE='" + trace.string() + "' timeout -k 5 60 '" + s.exe + "' --mode=" + mode, dir);
  EXPECT_NE(r.code, 124) << s.name << " --mode=" << mode << " did not finish within 60 s";
  EXPECT_EQ(r.code, 0) << s.name << " --mode=" << mode << " failed:\n" << r.err;
  analysis::Report rep = analyze_path(trace);
  EXPECT_TRUE(rep.run.complete) << "the sample's trace has no end marker";
  return rep;
}

}  // namespace ctxscope::testing
