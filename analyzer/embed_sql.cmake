# Writes rules_sql.hpp: every analyzer/rules/*.sql as a string constant, so the
# library carries exactly the SQL that docs/rules.md shows and sqlite3 can run.
# Usage: cmake -DRULES_DIR=... -DOUT=... -P embed_sql.cmake
set(rules lost_cancel blind_wait stuck_wait use_after_cancel late_exit)
set(body "// Generated from analyzer/rules/*.sql by embed_sql.cmake. Do not edit.\n#pragma once\n#include \"ctxscope/analysis/analyzer.hpp\"\nnamespace ctxscope::analysis::detail {\n")
file(READ "${RULES_DIR}/prelude.sql" prelude)
string(APPEND body "inline constexpr std::string_view kPreludeSql = R\"ctxsql(${prelude})ctxsql\";\n")
string(APPEND body "inline constexpr RuleSql kRuleSql[] = {\n")
foreach(r IN LISTS rules)
  file(READ "${RULES_DIR}/${r}.sql" sql)
  string(REPLACE "_" "-" id "${r}")
  string(APPEND body "  {\"${id}\", R\"ctxsql(${sql})ctxsql\"},\n")
endforeach()
string(APPEND body "};\n}  // namespace ctxscope::analysis::detail\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
