# ctxscope_add_leak_checks(<target> [DISCOVER])
#
# Links <target> (a GoogleTest executable without a main of its own) with
# ctxscope::gtest_main, so every test is checked for leaked contexts and go()
# threads, and registers its tests with CTest (gtest_discover_tests).  Options
# per test run come from the environment: CTXSCOPE_PROBE, CTXSCOPE_PROBE_GRACE_MS,
# CTXSCOPE_PROBE_IGNORE (docs/probe.md).
include(GoogleTest)
function(ctxscope_add_leak_checks target)
  target_link_libraries(${target} PRIVATE ctxscope::gtest_main)
  gtest_discover_tests(${target} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60)
endfunction()
