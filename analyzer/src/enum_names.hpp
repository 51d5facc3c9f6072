// Names of the enumeration codes a trace stores (docs/trace-schema.md, table
// `enums`): read from the file itself, so an older reader names a newer file's
// new code as the file does.  Every reader of the analysis library — the rule
// engine's messages, stats and export, the trace model — names codes through
// this one table.  Reports always show names, never bare codes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "sql.hpp"

namespace ctxscope::analysis::detail {

/// (enumeration, code) → name, e.g. ("wait_object", 0) → "chan_recv".
using EnumTable = std::map<std::pair<std::string, int>, std::string, std::less<>>;

/// The file's `enums` table (throws sql::Error on an SQL error).
inline EnumTable read_enum_table(sqlite3* db) {
  EnumTable t;
  sql::Stmt s(db, "SELECT type, value, name FROM enums");
  while (s.step()) t[{s.text(0), static_cast<int>(s.i64(1))}] = s.text(2);
  return t;
}

/// Name of `code` in enumeration `type` as the file names it; `null_name` for
/// NULL; "code N" for a code the file does not name (a damaged or hostile file).
inline std::string enum_name(const EnumTable& t, std::string_view type, std::optional<std::int64_t> code,
                             const char* null_name = "") {
  if (!code) return null_name;
  if (*code >= 0 && *code <= 255)
    if (auto it = t.find(std::pair<std::string, int>(std::string(type), static_cast<int>(*code))); it != t.end())
      return it->second;
  return "code " + std::to_string(*code);
}

}  // namespace ctxscope::analysis::detail
