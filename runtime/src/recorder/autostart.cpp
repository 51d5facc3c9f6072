// CTXSCOPE_TRACE=path in the environment starts recording at program start.
//
// The runtime is a static library, so this object would not be linked into a
// program that never calls trace::*; runtime/CMakeLists.txt passes
// `-u ctxscope_recorder_autostart` to every consumer to force it in.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ctxscope/trace.hpp"

extern "C" {
// Referenced by the linker option only; its address is what keeps this TU.
extern const int ctxscope_recorder_autostart;
const int ctxscope_recorder_autostart = 1;
}

namespace ctxscope::trace::detail {
bool start_from_environment();
}

namespace {
struct AutoStart {
  AutoStart() { ctxscope::trace::detail::start_from_environment(); }
};
AutoStart g_autostart;
}  // namespace
