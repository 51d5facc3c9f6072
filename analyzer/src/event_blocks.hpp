// Reading events straight from `event_blocks` (schema 6: a JSON array of
// events per block), for the readers that want every event after a point
// quickly — the trace model's update() and stats — instead of the TEMP view
// `events`, which SQLite decodes field by field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ctxscope/trace_schema.hpp"
#include "sql.hpp"

namespace ctxscope::analysis::detail {

/// One decoded event of a block.
struct BlockEvent {
  std::int64_t seq;
  std::uint32_t thread;
  std::uint64_t id;  ///< primary object id
  const trace::schema::event_encoding::Fields& f;
  int type() const { return trace::schema::event_encoding::op_type(f.op); }
};

/// Calls `fn(const BlockEvent&)` for every event with seq > `after`, in seq
/// order; only the blocks that can hold one are read (by rowid).  Throws
/// sql::Error naming the block when one is not the JSON the writer writes.
template <class Fn>
void for_each_event_after(sqlite3* db, std::int64_t after, Fn&& fn) {
  namespace enc = trace::schema::event_encoding;
  sql::Stmt s(db, "SELECT seq, thread, id, events FROM main.event_blocks WHERE seq > ?1 - " +
                      std::to_string(enc::kMaxBlockEvents));
  s.bind(1, after);
  std::vector<enc::Fields> evs;
  while (s.step()) {
    const std::int64_t seq = s.i64(0);
    const auto thread = static_cast<std::uint32_t>(s.i64(1));
    const std::int64_t block_id = s.i64(2);
    if (!enc::decode_block(s.text(3), evs))
      throw sql::Error("event block " + std::to_string(seq) +
                       " is corrupt (its events are not a JSON array of event arrays)");
    for (std::size_t k = 0; k < evs.size(); ++k) {
      const std::int64_t q = seq + static_cast<std::int64_t>(k);
      if (q <= after) continue;
      fn(BlockEvent{q, thread, static_cast<std::uint64_t>(block_id + evs[k].did), evs[k]});
    }
  }
}

}  // namespace ctxscope::analysis::detail
