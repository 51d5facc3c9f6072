// The reader treats a trace as untrusted input: each kind of bad file gets its
// one clear line, never a crash; a live trace can be followed.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include "ctxscope/trace_schema.hpp"
#include "recorder/recorder_test_util.hpp"

namespace ctxscope {
namespace {

using rectest::q_int;

std::string refusal(const std::string& path) {
  std::string err;
  auto r = trace::TraceReader::open(path, &err);
  EXPECT_FALSE(r.has_value()) << path << " was accepted";
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  EXPECT_EQ(err.rfind(path + ": ", 0), 0u) << err;
  return err;
}

// A complete, checkpointed trace with some rows.
std::string good_trace(const std::string& stem) {
  const std::string p = rectest::temp_trace(stem);
  std::string err;
  EXPECT_TRUE(trace::start(p, {}, &err)) << err;
  for (int i = 0; i < 2000; ++i) {
    Event e{};
    e.type = EventType::ctx_create;
    e.id = (1ull << 41) + static_cast<std::uint64_t>(i);
    e.ref = 1;
    e.kind = static_cast<std::uint8_t>(Kind::cancel);
    e.site = std::source_location::current();
    rectest::emit(e);
  }
  trace::stop();
  return p;
}

void exec_rw(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* msg = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg), SQLITE_OK) << (msg ? msg : "");
  sqlite3_free(msg);
  sqlite3_close(db);
}

TEST(TraceReader, AcceptsACompleteTrace) {
  const std::string p = good_trace("good");
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->schema_version(), trace::schema::kVersion);
  EXPECT_TRUE(r->run().complete());
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM contexts WHERE id >= " + std::to_string(1ull << 41)), 2000);
  // Read-only: writing through the reader's connection fails.
  EXPECT_NE(sqlite3_exec(r->db(), "DELETE FROM events", nullptr, nullptr, nullptr), SQLITE_OK);
}

TEST(TraceReader, RefusesAMissingFile) {
  EXPECT_NE(refusal("/nonexistent/run.db").find("cannot open"), std::string::npos);
}

TEST(TraceReader, RefusesRandomBytes) {
  const std::string p = rectest::temp_trace("random");
  std::mt19937 rng(7);
  {
    std::ofstream out(p, std::ios::binary);
    for (int i = 0; i < 8192; ++i) out.put(static_cast<char>(rng()));
  }
  EXPECT_EQ(refusal(p), p + ": not a SQLite database");
}

TEST(TraceReader, RefusesRandomBytesBehindAValidSqliteHeader) {
  const std::string p = rectest::temp_trace("random-hdr");
  std::mt19937 rng(11);
  {
    std::ofstream out(p, std::ios::binary);
    out.write("SQLite format 3", 16);
    for (int i = 16; i < 8192; ++i) out.put(static_cast<char>(rng()));
  }
  const std::string err = refusal(p);
  EXPECT_TRUE(err.find("not a SQLite database") != std::string::npos ||
              err.find("truncated or corrupt") != std::string::npos ||
              err.find("not a ctxscope trace") != std::string::npos)
      << err;
}

TEST(TraceReader, RefusesAnEmptyFile) {
  const std::string p = rectest::temp_trace("empty");
  std::ofstream(p).close();
  EXPECT_EQ(refusal(p), p + ": empty file, not a ctxscope trace");
}

TEST(TraceReader, RefusesASqliteFileOfAnotherApplication) {
  const std::string p = rectest::temp_trace("other-app");
  exec_rw(p, "PRAGMA application_id=1234; CREATE TABLE t(x); INSERT INTO t VALUES(1);");
  EXPECT_EQ(refusal(p), p + ": not a ctxscope trace (application_id 0x000004D2, expected 0x43545853)");
}

TEST(TraceReader, RefusesAFutureSchemaVersion) {
  const std::string p = good_trace("future");
  exec_rw(p, "PRAGMA user_version=7");
  EXPECT_EQ(refusal(p), p + ": schema version 7 is newer than this ctxscope (max " +
                            std::to_string(trace::schema::kVersion) + ")");
}

TEST(TraceReader, RefusesAnOlderSchemaVersion) {
  // A version-1 file (enumerations stored as names) cannot be read as version 2:
  // one line naming the file and what to do.
  const std::string p = good_trace("older");
  exec_rw(p, "PRAGMA user_version=1");
  EXPECT_EQ(refusal(p), p + ": written by an older ctxscope (schema version 1, this ctxscope reads " +
                            std::to_string(trace::schema::kVersion) + "): re-record the trace with this ctxscope");
}

TEST(TraceReader, RefusesTheVersionBeforeThisOne) {
  // Version 5 stored one row per event (event_log); version 6 packs them per
  // block (event_blocks.events): a version-5 file is refused with the same line.
  const std::string p = good_trace("v5");
  const int v = trace::schema::kVersion - 1;
  exec_rw(p, "PRAGMA user_version=" + std::to_string(v));
  EXPECT_EQ(refusal(p), p + ": written by an older ctxscope (schema version " + std::to_string(v) +
                            ", this ctxscope reads " + std::to_string(trace::schema::kVersion) +
                            "): re-record the trace with this ctxscope");
}

TEST(TraceReader, RefusesPlantedTriggersAndViews) {
  const std::string p1 = good_trace("trigger");
  exec_rw(p1, "CREATE TRIGGER evil AFTER INSERT ON event_blocks BEGIN DELETE FROM run; END;");
  EXPECT_EQ(refusal(p1), p1 + ": refusing a trace that contains a trigger ('evil'): traces never hold views or triggers");
  const std::string p2 = good_trace("view");
  exec_rw(p2, "CREATE VIEW contexts_v AS SELECT * FROM contexts;");
  EXPECT_EQ(refusal(p2), p2 + ": refusing a trace that contains a view ('contexts_v'): traces never hold views or triggers");
}

TEST(TraceReader, RefusesATruncatedFile) {
  const std::string p = good_trace("truncated");
  const auto size = std::filesystem::file_size(p);
  ASSERT_GT(size, 3 * 4096u);
  std::filesystem::resize_file(p, size / 2);
  const std::string err = refusal(p);
  EXPECT_NE(err.find("file is truncated or corrupt"), std::string::npos) << err;
}

TEST(TraceReader, RefusesATraceWithAMissingTable) {
  const std::string p = good_trace("missing");
  exec_rw(p, "DROP TABLE waits");
  EXPECT_EQ(refusal(p), p + ": not a complete ctxscope trace (table 'waits' is missing)");
}

TEST(TraceReader, FollowsALiveTraceAcrossCommits) {
  const std::string p = rectest::temp_trace("live");
  std::string err;
  ASSERT_TRUE(trace::start(p, {}, &err)) << err;
  trace::flush();
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  const std::string q = "SELECT count(*) FROM events WHERE id=" + std::to_string(1ull << 42);
  EXPECT_EQ(q_int(r->db(), q), 0);
  EXPECT_FALSE(r->run().complete());
  ASSERT_EQ(r->warnings().size(), 1u);
  EXPECT_EQ(r->warnings()[0], p + ": incomplete trace (no end marker: the program is still running or was killed)");
  Event e{};
  e.type = EventType::chan_close;
  e.id = 1ull << 42;
  rectest::emit(e);
  trace::flush();
  EXPECT_EQ(q_int(r->db(), q), 1);
  trace::stop();
  EXPECT_TRUE(r->run().complete());
}

TEST(TraceSchemaDoc, GeneratedPageIsUpToDate) {
  // tests/recorder/<this file> -> docs/trace-schema.md
  const auto page = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "docs" / "trace-schema.md";
  std::ifstream in(page, std::ios::binary);
  ASSERT_TRUE(in) << page;
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_TRUE(ss.str() == trace::schema::markdown())
      << page << " is stale: regenerate with `cmake --build <dir> --target ctxscope-trace-schema-doc`";
}

TEST(TraceSchema, CreatesEveryDeclaredTable) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, trace::schema::create_sql().c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  for (const auto& t : trace::schema::tables()) {
    EXPECT_EQ(q_int(db, "SELECT count(*) FROM pragma_table_info('" + std::string(t.name) + "')"),
              static_cast<std::int64_t>(t.columns.size()))
        << t.name;
    for (const auto& c : t.columns) EXPECT_FALSE(c.doc.empty()) << t.name << "." << c.name;
  }
  sqlite3_close(db);
}

// Every enumeration column is an INTEGER whose doc lists every code of its
// enumeration ("2 cancel"), as table `enums` holds them (from to_string()).
TEST(TraceSchema, EnumerationColumnsDocumentEveryCode) {
  const auto values = trace::schema::enum_values();
  int columns = 0;
  std::vector<trace::schema::Table> tables(trace::schema::tables().begin(), trace::schema::tables().end());
  tables.push_back({"events", "the TEMP view", trace::schema::events_view_columns()});
  for (const auto& t : tables)
    for (const auto& c : t.columns) {
      if (c.enum_type.empty()) continue;
      ++columns;
      EXPECT_EQ(c.type.substr(0, 7), "INTEGER") << t.name << "." << c.name;
      int codes = 0;
      for (const auto& v : values) {
        if (v.type != c.enum_type) continue;
        ++codes;
        const std::string code = std::to_string(v.value) + " " + std::string(v.name);
        EXPECT_NE(c.doc.find(code), std::string_view::npos) << t.name << "." << c.name << " does not list " << code;
      }
      EXPECT_GT(codes, 0) << t.name << "." << c.name << ": no enumeration " << c.enum_type;
      EXPECT_NE(c.doc.find("`enums.type = '" + std::string(c.enum_type) + "'`"), std::string_view::npos)
          << t.name << "." << c.name;
    }
  EXPECT_EQ(columns, 10);  // contexts: kind, cancel_reason, err, release_reason; waits: object, outcome;
                           // tests: kind, result; events: type, err
  // No enumeration is stored as text in the entity tables any more.
  for (const char* table : {"contexts", "waits"})
    for (const auto& c : trace::schema::find_table(table)->columns) {
      if (c.type.substr(0, 4) == "TEXT") {
        EXPECT_TRUE(c.name == "label" || c.name == "cause_category") << table << "." << c.name;
      }
    }
}

}  // namespace
}  // namespace ctxscope
