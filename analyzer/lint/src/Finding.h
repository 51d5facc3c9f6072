// A finding as the ctxscope-lint front end prints it: plain data, no Clang types.
#pragma once

#include <string>
#include <vector>

namespace ctxscope::lint {

struct Position {
  std::string file;  ///< as named on the command line / in the compile database
  unsigned line = 0;
  unsigned column = 0;
};

struct FindingNote {
  Position at;
  std::string message;
};

struct Finding {
  std::string rule;  ///< "lost-cancel", "blind-wait"
  Position at;
  std::string message;
  std::vector<FindingNote> notes;
  /// With --trace: how many times the trace analyzer reported this rule at this
  /// line in the run (0: not reached); -1 without a trace.
  int runtime_count = -1;
};

}  // namespace ctxscope::lint
