// The seven scenarios as GoogleTest tests under the probe (ctxscope::gtest_main):
// each fixed mode is a clean test, each buggy mode a test that leaks.  Run by
// tests/probe/probe_test.cpp, which checks that the fixed tests pass and that
// each buggy test fails with the findings the analyzer gives for the sample's
// own recorded run (tests/analysis/golden/recorded/<scenario>.buggy.json).
#include <gtest/gtest.h>

#include "ci-job/scenario.hpp"
#include "fanout-timeout/scenario.hpp"
#include "first-response/scenario.hpp"
#include "http-premature-cancel/scenario.hpp"
#include "lost-cancel/scenario.hpp"
#include "pipeline/scenario.hpp"
#include "propagation-tree/scenario.hpp"

#define CTXSCOPE_SCENARIO(ns)                   \
  TEST(Scenario, ns##_fixed) { ns::run_fixed({}); } \
  TEST(Scenario, ns##_buggy) { ns::run_buggy({}); }

CTXSCOPE_SCENARIO(ci_job)
CTXSCOPE_SCENARIO(fanout_timeout)
CTXSCOPE_SCENARIO(first_response)
CTXSCOPE_SCENARIO(http_premature_cancel)
CTXSCOPE_SCENARIO(lost_cancel)
CTXSCOPE_SCENARIO(pipeline)
CTXSCOPE_SCENARIO(propagation_tree)
