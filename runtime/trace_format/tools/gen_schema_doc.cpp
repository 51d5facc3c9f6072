// ctxscope-gen-schema-doc — prints docs/trace-schema.md from the schema declaration.
//   ctxscope-gen-schema-doc > docs/trace-schema.md     (or: cmake --build B --target ctxscope-trace-schema-doc)
// tests/recorder/trace_reader_test.cpp fails while the committed page differs.
#include <cstdio>
#include <iostream>

#include "ctxscope/trace_schema.hpp"

int main(int argc, char**) {
  if (argc != 1) {
    std::fprintf(stderr, "usage: ctxscope-gen-schema-doc > docs/trace-schema.md\n");
    return 2;
  }
  std::cout << ctxscope::trace::schema::markdown();
  return 0;
}
