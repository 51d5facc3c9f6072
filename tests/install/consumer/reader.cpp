// Reads a trace with the installed analysis library.
#include <ctxscope/analysis/analyzer.hpp>
#include <ctxscope/analysis/trace_model.hpp>
#include <ctxscope/trace_reader.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::string err;
  auto r = ctxscope::trace::TraceReader::open(argv[1], &err);
  if (!r) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 2;
  }
  const auto model = ctxscope::analysis::TraceModel::load(r->db());
  const auto rep = ctxscope::analysis::analyze(r->db(), {});
  std::printf("contexts %zu findings %zu\n", model.contexts().size(), rep.findings.size());
  return 0;
}
