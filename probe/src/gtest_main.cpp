// ctxscope::gtest_main: GoogleTest's main with the probe's listener installed.
#include <gtest/gtest.h>

#include "ctxscope/probe.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ctxscope::probe::install_gtest_listener();
  return RUN_ALL_TESTS();
}
