// ctxscope-gen-schema-doc — prints docs/trace-schema.md from the schema declaration.
//   ctxscope-gen-schema-doc            > docs/trace-schema.md
//   ctxscope-gen-schema-doc --check F  exit 1 (one line) if F differs from the generated page
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "ctxscope/trace_schema.hpp"

int main(int argc, char** argv) {
  const std::string page = ctxscope::trace::schema::markdown();
  if (argc == 3 && std::string(argv[1]) == "--check") {
    std::ifstream in(argv[2], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot read\n", argv[2]);
      return 2;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str() != page) {
      std::fprintf(stderr, "%s: stale; regenerate with ctxscope-gen-schema-doc > %s\n", argv[2], argv[2]);
      return 1;
    }
    return 0;
  }
  if (argc != 1) {
    std::fprintf(stderr, "usage: ctxscope-gen-schema-doc [--check FILE]\n");
    return 2;
  }
  std::cout << page;
  return 0;
}
