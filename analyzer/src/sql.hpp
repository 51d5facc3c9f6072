// The analysis library's view of the one SQLite wrapper (ctxscope/detail/sql.hpp,
// shared with the recorder): `sql::Stmt`, `sql::ReadSnapshot`, ... and the
// reader's second connection.
#pragma once

#include "ctxscope/detail/sql.hpp"

namespace ctxscope::analysis {

namespace sql = ::ctxscope::sql;

/// A second read-only connection to the file `db` reads, with the trace
/// reader's safety settings (trace_reader.cpp); empty for an in-memory trace
/// or when it cannot be opened.  For reading one trace on two cores.
sql::Connection open_sibling(sqlite3* db);

}  // namespace ctxscope::analysis
