// Symbolizer: return addresses of this process → function, file and line,
// inlined calls expanded — on the recorder thread, once per distinct address.
//
// One libbacktrace state for the whole process (created on first use, never
// freed: libbacktrace cannot free one), so the debug information of the
// program is read once, not once per recording or per thread.
#pragma once

#include <string>
#include <vector>

namespace ctxscope::trace::detail {

struct SymbolizedFrame {
  std::string function;  ///< demangled; empty when unknown
  std::string file;      ///< empty without debug information
  int line = 0;
};

/// The frames at return address `pc`, innermost first: with debug
/// information, one per inlined call at that address and then the function
/// that holds it; without, one frame named from the symbol table (or nothing
/// known).  Never empty.  Thread-safe.
std::vector<SymbolizedFrame> symbolize(const void* pc);

}  // namespace ctxscope::trace::detail
