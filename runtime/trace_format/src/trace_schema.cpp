// Renders the one schema declaration (trace_schema.hpp) as SQL and as Markdown.
#include "ctxscope/trace_schema.hpp"

#include <charconv>
#include <cstdio>
#include <string>

#include "ctxscope/trace_codes.hpp"

namespace ctxscope::trace::schema {

const Table* find_table(std::string_view name) noexcept {
  for (const Table& t : kTables)
    if (t.name == name) return &t;
  return nullptr;
}

std::string create_sql() {
  std::string s;
  for (const Table& t : kTables) {
    s += "CREATE TABLE ";
    s += t.name;
    s += " (\n";
    bool first = true;
    for (const Column& c : t.columns) {
      if (!first) s += ",\n";
      first = false;
      s += "  ";
      s += c.name;
      s += ' ';
      s += c.type;
    }
    if (!t.table_constraint.empty()) {
      s += ",\n  ";
      s += t.table_constraint;
    }
    s += "\n)";
    if (t.without_rowid) s += " WITHOUT ROWID";
    s += ";\n";
  }
  return s;
}

std::string events_view_sql() {
  // Blocks in seq order, each block's JSON array walked by json_each (in array
  // order); dt and did are deltas from the previous event of the block, summed
  // by a window per block.  json_extract re-reads one small element array
  // (SQLite caches its parse); a field left out (a trailing zero) is NULL.
  // The window also keeps SQLite from flattening the decoding into a query
  // that joins the view: the view is then decoded once into a temporary table
  // that SQLite can index, not re-decoded, block by block, for every row of
  // the other side (a self-join of 20,000 events: 19 minutes when flattened).
  return "CREATE TEMP VIEW IF NOT EXISTS events(seq, t_ns, type, thread, id, ref, value, kind, aux, err, code, site) AS\n"
         "  SELECT seq, t_ns, op & 15, thread, id,\n"
         "         CASE WHEN r = 0 THEN 0 WHEN r & 1 THEN (r + 1) >> 1 ELSE bid + (r >> 1) END, value, (op >> 4) & 15,\n"
         "         (op >> 10) & 255, CASE WHEN op & 15 = 2 THEN ((op >> 8) + 1) & 3 ELSE (op >> 8) & 3 END, op >> 18, site\n"
         "  FROM (SELECT b.seq + e.key AS seq, b.t_ns + sum(json_extract(e.value, '$[0]')) OVER w AS t_ns,\n"
         "               b.thread AS thread, b.id + sum(coalesce(json_extract(e.value, '$[2]'), 0)) OVER w AS id,\n"
         "               b.id AS bid, json_extract(e.value, '$[1]') AS op, nullif(json_extract(e.value, '$[3]'), 0) AS site,\n"
         "               coalesce(json_extract(e.value, '$[4]'), 0) AS r, coalesce(json_extract(e.value, '$[5]'), 0) AS value\n"
         "        FROM main.event_blocks AS b, json_each(b.events) AS e\n"
         "        WINDOW w AS (PARTITION BY b.seq ORDER BY e.key ROWS UNBOUNDED PRECEDING));";
}

namespace event_encoding {

void BlockText::append(const Fields& f) {
  // dt and did as deltas from the previous event (the first: from the block).
  const std::int64_t v[6] = {static_cast<std::int64_t>(static_cast<std::uint64_t>(f.dt) - static_cast<std::uint64_t>(dt_)),
                             f.op,
                             static_cast<std::int64_t>(static_cast<std::uint64_t>(f.did) - static_cast<std::uint64_t>(did_)),
                             f.site, f.ref, f.value};
  dt_ = f.dt;
  did_ = f.did;
  int last = 1;  // dt and op always; the rest up to the last non-zero
  for (int k = 2; k < 6; ++k)
    if (v[k] != 0) last = k;
  text_ += text_.empty() ? "[[" : ",[";
  char buf[24];
  for (int k = 0; k <= last; ++k) {
    if (k) text_ += ',';
    const auto r = std::to_chars(buf, buf + sizeof buf, v[k]);
    text_.append(buf, r.ptr);
  }
  text_ += ']';
}

const std::string& BlockText::finish() {
  if (!finished_) text_ += text_.empty() ? "[]" : "]";
  finished_ = true;
  return text_;
}

bool decode_block(std::string_view text, std::vector<Fields>& out) {
  out.clear();
  const char* p = text.data();
  const char* const end = p + text.size();
  auto skip_ws = [&] {
    while (p != end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')) ++p;
  };
  auto expect = [&](char c) {
    skip_ws();
    if (p == end || *p != c) return false;
    ++p;
    return true;
  };
  if (!expect('[')) return false;
  skip_ws();
  if (p != end && *p == ']') return ++p, skip_ws(), p == end;
  for (;;) {
    if (!expect('[')) return false;
    std::int64_t v[6] = {};
    int k = 0;
    for (;;) {
      skip_ws();
      if (k == 6) return false;
      const auto r = std::from_chars(p, end, v[k]);
      if (r.ec != std::errc{}) return false;
      p = r.ptr;
      ++k;
      skip_ws();
      if (p != end && *p == ',') {
        ++p;
        continue;
      }
      if (!expect(']')) return false;
      break;
    }
    if (k < 2) return false;
    // Stored dt and did are deltas from the previous event: summed (wrapping,
    // as the encoder subtracted) back to offsets from the block.
    const std::int64_t dt = out.empty() ? v[0]
                                        : static_cast<std::int64_t>(static_cast<std::uint64_t>(out.back().dt) +
                                                                    static_cast<std::uint64_t>(v[0]));
    const std::int64_t did = out.empty() ? v[2]
                                         : static_cast<std::int64_t>(static_cast<std::uint64_t>(out.back().did) +
                                                                     static_cast<std::uint64_t>(v[2]));
    out.push_back(Fields{dt, v[1], did, v[3], v[4], v[5]});
    skip_ws();
    if (p != end && *p == ',') {
      ++p;
      continue;
    }
    if (!expect(']')) return false;
    skip_ws();
    return p == end;
  }
}

}  // namespace event_encoding

static_assert(event_encoding::kKindShift == 4 && event_encoding::kErrShift == 8 && event_encoding::kAuxShift == 10 &&
                  event_encoding::kCodeShift == 18 && event_encoding::kTypeMax == 15 && event_encoding::kKindMax == 15 &&
                  event_encoding::kErrMax == 3 && event_encoding::kCancelType == 2,
              "events_view_sql() spells the op layout out");

namespace {
// Every code 0..255 of enum E that ctxscope::to_string names.
template <class E>
void add_enum(std::vector<EnumValue>& out, std::string_view type) {
  for (int v = 0; v <= 255; ++v) {
    const std::string_view name = to_string(static_cast<E>(v));
    if (name != "unknown") out.push_back({type, v, name});
  }
}
}  // namespace

std::vector<EnumValue> enum_values() {
  std::vector<EnumValue> v;
  add_enum<EventType>(v, "event");
  add_enum<Kind>(v, "kind");
  add_enum<CancelReason>(v, "cancel_reason");
  add_enum<WaitObject>(v, "wait_object");
  add_enum<WaitOutcome>(v, "wait_outcome");
  add_enum<ReleaseReason>(v, "release_reason");
  add_enum<TestKind>(v, "test_kind");
  add_enum<TestResult>(v, "test_result");
  // ctxscope::errc (context.hpp) has no to_string: its names are those of the enumerators.
  v.push_back({"errc", 1, "canceled"});
  v.push_back({"errc", 2, "deadline_exceeded"});
  return v;
}

std::string enums_sql() {
  std::string s = "INSERT INTO enums(type, value, name) VALUES ";
  bool first = true;
  for (const EnumValue& e : enum_values()) {
    s += first ? "(" : ",(";
    first = false;
    s += "'" + std::string(e.type) + "'," + std::to_string(e.value) + ",'" + std::string(e.name) + "')";
  }
  return s + ";";
}

namespace {
// Table cells must not break the Markdown table.
std::string cell(std::string_view v) {
  std::string r;
  for (char ch : v) {
    if (ch == '|') r += "\\|";
    else if (ch == '\n') r += ' ';
    else r += ch;
  }
  return r;
}
}  // namespace

std::string markdown() {
  std::string s;
  s += "<!-- GENERATED from runtime/trace_format/include/ctxscope/trace_schema.hpp by ctxscope-gen-schema-doc; do not edit. -->\n";
  s += "# ctxscope trace schema (version " + std::to_string(kVersion) + ")\n\n";
  s += "A trace is one SQLite file (WAL mode) per traced process, written by the recorder\n"
       "(`CTXSCOPE_TRACE=run.db` or `ctxscope::trace::start(\"run.db\")`).\n\n";
  char appid[16];
  std::snprintf(appid, sizeof appid, "0x%08X", static_cast<unsigned>(kApplicationId));
  s += "- `PRAGMA application_id` = `" + std::string(appid) + "` (ASCII \"CTXS\"): marks the file as a ctxscope trace.\n";
  s += "- `PRAGMA user_version` = `" + std::to_string(kVersion) +
       "`: the schema version; readers refuse any other version (a file written by an older ctxscope must be\n"
       "  re-recorded; version 1 stored enumerations as names, version 4 events as one plain table, version 5\n"
       "  one row per event).\n";
  s += "- Every `*_ns` column is steady-clock (CLOCK_MONOTONIC) nanoseconds **relative to the run start**:\n"
       "  `run.start_steady_ns` is the absolute steady time of 0 and `run.start_wall_ns` its Unix wall time.\n"
       "  Deadlines too (negative if before the start).\n";
  s += "- Object ids (contexts, waits, channels, WaitGroups, Groups) share one id space;\n"
       "  context 1 is background and 2 is todo (their rows are always present).\n";
  s += "- Thread ids are ctxscope's dense ids (1, 2, ...), not OS thread ids.\n";
  s += "- `site` / `*_site` columns reference `sites.id`; `stack` columns reference `stacks.id`; NULL = unknown or not captured.\n";
  s += "- Enumerations are INTEGER codes in every table (the values of the C++ enums in\n"
       "  `ctxscope/trace_codes.hpp` and of `ctxscope::errc`); each column lists its codes, and table `enums` maps\n"
       "  every (type, code) to its name (all codes: [Enumeration codes](#enumeration-codes)), e.g.\n"
       "  `SELECT e.name FROM contexts c JOIN enums e ON e.type = 'kind' AND e.value = c.kind`.\n";
  s += "- The file contains no views or triggers; readers refuse a file that does. Create TEMP views instead.\n";
  s += "- Events are stored packed in `event_blocks`: one row per run of up to 256 events of one thread, the\n"
       "  events a JSON array in it (time and id as deltas, codes packed); read them through the TEMP view\n"
       "  [`events`](#events), which every ctxscope reader creates on its connection (with plain `sqlite3`,\n"
       "  paste its `CREATE TEMP VIEW` first; it needs SQLite's JSON functions, built in since 3.38).\n";
  s += "- A run without end marker (`run.end_state = 'none'`) is still being written or was killed: it holds\n"
       "  everything up to `run.last_commit_ns` (the recorder commits at least every 100 ms).\n";
  s += "- `run.events_dropped` is 0 unless the run used drop mode; every reader reports a non-zero count.\n";
  s += "- `fork()`: recording is off in the child of a traced process (it never writes the parent's file);\n"
       "  a child that calls `trace::start` records into its own file. A path in `CTXSCOPE_TRACE` may contain\n"
       "  `%p`, replaced by the pid, so that exec'd children traced through the environment get their own files;\n"
       "  a second process starting on a file that a live recorder holds is refused.\n\n";
  s += "## Tables\n\n";
  for (const Table& t : kTables) s += "- [`" + std::string(t.name) + "`](#" + std::string(t.name) + ")\n";
  s += "- [`events`](#events) (TEMP view)\n";
  s += "\n";
  for (const Table& t : kTables) {
    s += "## " + std::string(t.name) + "\n\n" + std::string(t.doc) + "\n\n";
    s += "| column | type | meaning |\n|---|---|---|\n";
    for (const Column& c : t.columns)
      s += "| `" + std::string(c.name) + "` | " + cell(c.type) + " | " + cell(c.doc) + " |\n";
    if (!t.table_constraint.empty())
      s += "\nTable constraint: `" + std::string(t.table_constraint) + "`" +
           (t.without_rowid ? " (WITHOUT ROWID)" : "") + ".\n";
    s += "\n";
  }
  s += "## events\n\n"
       "The view every reader creates (TEMP, on its own connection): each event of `event_blocks` decoded with "
       "its block — the columns of the version-4 table `events`.  A query over a range of `seq` is faster on the "
       "blocks of that range (e.g. `SELECT b.seq + e.key, json_extract(e.value, '$[1]') & 15 FROM event_blocks b, "
       "json_each(b.events) e WHERE b.seq > ? - 256 AND b.seq + e.key > ?`): the view walks every block.  "
       "It decodes in SQL, about 7 µs per event (7 s for a million on the 2-core reference VM; a version-5 file "
       "read its table-backed view in 0.2 s): fine for a query over a test's trace, slow for a whole large one. "
       "Queries on the entity tables (`contexts`, `waits`, ...) do not touch events; C++ readers decode the "
       "blocks with `ctxscope::trace::schema::event_encoding::decode_block` (trace_schema.hpp), 0.13 µs per "
       "event.\n\n";
  s += "| column | type | meaning |\n|---|---|---|\n";
  for (const Column& c : cols::events)
    s += "| `" + std::string(c.name) + "` | " + cell(c.type) + " | " + cell(c.doc) + " |\n";
  s += "\n```sql\n" + events_view_sql() + "\n```\n\n";
  s += "## Enumeration codes\n\nThe rows of table `enums` (every trace holds all of them).\n\n";
  s += "| `enums.type` | column(s) | codes |\n|---|---|---|\n";
  std::string type, codes;
  auto flush = [&] {
    if (type.empty()) return;
    std::string columns;
    auto add = [&](std::string_view table, std::string_view column) {
      columns += (columns.empty() ? "`" : ", `") + std::string(table) + "." + std::string(column) + "`";
    };
    for (const Table& t : kTables)
      for (const Column& c : t.columns)
        if (c.enum_type == type) add(t.name, c.name);
    for (const Column& c : cols::events)
      if (c.enum_type == type) add("events", c.name);
    // events.kind holds the code of one of five enumerations, depending on events.type.
    if (type != "event" && type != "errc") add("events", "kind");
    s += "| " + type + " | " + columns + " | " + codes + " |\n";
  };
  for (const EnumValue& e : enum_values()) {
    if (e.type != type) {
      flush();
      type = e.type;
      codes.clear();
    }
    codes += std::string(codes.empty() ? "" : ", ") + std::to_string(e.value) + " " + std::string(e.name);
  }
  flush();
  s += "\n## DDL\n\n```sql\n" + create_sql() + "```\n";
  return s;
}

}  // namespace ctxscope::trace::schema
