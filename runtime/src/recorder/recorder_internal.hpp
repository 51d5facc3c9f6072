// Recorder internals shared with its tests (not installed).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "ctxscope/detail/events.hpp"
#include "ctxscope/detail/trace_file.hpp"  // replaceable_trace, read_wal_info (shared with the reader)

namespace ctxscope::trace::detail {
/// The recorder's sink object (static storage; installed by trace::start).
EventSink* recorder_sink() noexcept;
/// Test hook: while paused the recorder thread drains nothing (rings fill up),
/// so that full-buffer behaviour can be tested deterministically.
void pause_for_test(bool paused) noexcept;
/// Test hook: while held the writer's SQL thread starts no batch (what the
/// recorder hands over waits), so that what a barrier waits for can be tested.
void hold_writes_for_test(bool held) noexcept;
/// How often the recorder's threads have given way to the program's
/// (give_way.hpp): the draining thread, or the writer's SQL thread.
std::uint64_t give_way_yields(bool sql_thread) noexcept;
/// Starts from CTXSCOPE_TRACE / CTXSCOPE_STACKS / CTXSCOPE_DROP (autostart).
bool start_from_environment();
/// Events per thread buffer.
inline constexpr unsigned long long kRingCapacity = 2048;

}  // namespace ctxscope::trace::detail
