// ctxscope/detail/trace_file.hpp — what is at a trace path, read without SQLite
// (which would act on a WAL it opens): shared by the recorder (never replace
// anything but a ctxscope trace) and the reader (a WAL beside an empty main
// file).  Part of ctxscope::trace_format; not a user API.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace ctxscope::trace::detail {

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
