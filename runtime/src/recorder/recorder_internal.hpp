// Recorder internals shared with its tests (not installed).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "ctxscope/detail/events.hpp"

namespace ctxscope::trace::detail {
/// The recorder's sink object (static storage; installed by trace::start).
EventSink* recorder_sink() noexcept;
/// Test hook: while paused the recorder thread drains nothing (rings fill up),
/// so that full-buffer behaviour can be tested deterministically.
void pause_for_test(bool paused) noexcept;
/// Starts from CTXSCOPE_TRACE / CTXSCOPE_STACKS / CTXSCOPE_DROP (autostart).
bool start_from_environment();
/// Events per thread buffer.
inline constexpr unsigned long long kRingCapacity = 2048;

/// Why the file open on `fd` (at `path`) must not be replaced by a new trace,
/// or "" when it may: an empty file (with no foreign -wal beside it) or a
/// ctxscope trace (application_id in its header or, never checkpointed, in its WAL).
std::string replaceable_trace(int fd, const std::string& path);
/// "is a FIFO (named pipe), ..." for a non-regular file mode.
std::string describe_non_regular(mode_t m);

/// What a -wal file holds (read without SQLite, which would act on it).
struct WalInfo {
  bool exists = false;      ///< a regular, non-empty file
  bool valid = false;       ///< starts with a WAL header
  std::uint32_t page_size = 0;
  bool has_page1 = false;   ///< a frame of page 1 (the database header) in the current generation
  std::uint32_t application_id = 0;  ///< from the newest such frame
  long long size = 0;
};
WalInfo read_wal_info(const std::string& wal_path);
}  // namespace ctxscope::trace::detail
