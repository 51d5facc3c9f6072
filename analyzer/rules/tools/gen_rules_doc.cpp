// ctxscope-gen-rules-doc — keeps the rule table of docs/rules.md in step with
// the rule catalogue (analyzer/rules/*.sql header blocks).
//   ctxscope-gen-rules-doc --update FILE   rewrite the generated section of FILE
//   ctxscope-gen-rules-doc --check FILE    exit 1 (one line) if it is stale
//   ctxscope-gen-rules-doc                 print the generated section
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "ctxscope/rule_catalogue_doc.hpp"

int main(int argc, char** argv) {
  namespace rc = ctxscope::rule_catalogue;
  if (argc == 1) {
    std::cout << rc::markdown();
    return 0;
  }
  const std::string mode = argc == 3 ? argv[1] : "";
  if (mode != "--update" && mode != "--check") {
    std::fprintf(stderr, "usage: ctxscope-gen-rules-doc [--update FILE | --check FILE]\n");
    return 2;
  }
  std::ifstream in(argv[2], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot read\n", argv[2]);
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  in.close();
  const auto page = rc::with_generated_section(ss.str());
  if (!page) {
    std::fprintf(stderr, "%s: no generated-section markers (%.*s...)\n", argv[2], 40, rc::kDocBegin.data());
    return 2;
  }
  if (mode == "--check") {
    if (*page == ss.str()) return 0;
    std::fprintf(stderr, "%s: stale; regenerate with ctxscope-gen-rules-doc --update %s\n", argv[2], argv[2]);
    return 1;
  }
  if (*page == ss.str()) return 0;
  std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
  out << *page;
  out.close();
  if (!out) {
    std::fprintf(stderr, "%s: cannot write\n", argv[2]);
    return 2;
  }
  return 0;
}
