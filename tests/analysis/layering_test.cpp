// The layering of docs/architecture.md, checked on the built binaries: the
// CLI reads traces through ctxscope::analysis and must not contain the
// runtime (which would bring the recorder and its CTXSCOPE_TRACE autostart).
#include <gtest/gtest.h>

#include "test_util.hpp"

namespace ctxscope::testing {
namespace {

TEST(Layering, TheCliDoesNotLinkTheRuntime) {
  const std::string bin = read_file(cli());
  ASSERT_GT(bin.size(), 10000u) << "cannot read " << cli();
  // Symbols only the runtime defines: the recorder's autostart and the sink.
  EXPECT_EQ(bin.find("start_from_environment"), std::string::npos);
  EXPECT_EQ(bin.find("install_event_sink"), std::string::npos);
  // ...while the reading side is there.
  EXPECT_NE(bin.find("not a ctxscope trace"), std::string::npos);
}

}  // namespace
}  // namespace ctxscope::testing
