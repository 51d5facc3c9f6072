#include "recorder/symbolizer.hpp"

#include <backtrace.h>
#include <cxxabi.h>

#include <cstdint>
#include <cstdlib>

namespace ctxscope::trace::detail {
namespace {

void on_error(void*, const char*, int) {}  // no debug info: the frame stays unnamed

backtrace_state* state() {
  // threaded = 1: the recorder threads of successive recordings share it.
  static backtrace_state* s = backtrace_create_state(nullptr, 1, on_error, nullptr);
  return s;
}

std::string demangle(const char* name) {
  if (!name || !*name) return {};
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || !d) return name;
  std::string out = d;
  std::free(d);
  return out;
}

int on_pc(void* data, std::uintptr_t, const char* file, int line, const char* function) {
  auto* out = static_cast<std::vector<SymbolizedFrame>*>(data);
  if (!function && !file) return 0;
  out->push_back({demangle(function), file ? file : "", file ? line : 0});
  return 0;
}

void on_sym(void* data, std::uintptr_t, const char* symname, std::uintptr_t, std::uintptr_t) {
  *static_cast<std::string*>(data) = demangle(symname);
}

}  // namespace

std::vector<SymbolizedFrame> symbolize(const void* pc) {
  std::vector<SymbolizedFrame> out;
  backtrace_state* s = state();
  // A return address is the instruction after the call: look up the call.
  const auto addr = reinterpret_cast<std::uintptr_t>(pc);
  const std::uintptr_t call = addr > 0 ? addr - 1 : addr;
  if (s) backtrace_pcinfo(s, call, on_pc, on_error, &out);
  // The function that holds the address is named from the symbol table: its
  // linkage name demangles to the qualified name ("ns::(anonymous
  // namespace)::f(int)"), where DWARF's DW_AT_name of a function with
  // internal linkage is the bare "f".  Inlined frames keep DWARF's names.
  std::string name;
  if (s) backtrace_syminfo(s, call, on_sym, on_error, &name);
  if (out.empty()) out.push_back({"", "", 0});
  if (!name.empty()) out.back().function = std::move(name);
  return out;
}

}  // namespace ctxscope::trace::detail
