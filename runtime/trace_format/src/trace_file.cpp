// What is at a trace path before the recorder replaces it, and what a WAL holds.
// Shared by the recorder (never overwrite anything but a ctxscope trace) and
// the reader (a WAL beside an empty main file).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "ctxscope/trace_schema.hpp"
#include "ctxscope/detail/trace_file.hpp"

namespace ctxscope::trace::detail {
namespace {

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

std::string hex32(std::uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08X", v);
  return b;
}

}  // namespace

std::string describe_non_regular(mode_t m) {
  if (S_ISDIR(m)) return "is a directory, not a trace file";
  if (S_ISFIFO(m)) return "is a FIFO (named pipe), not a regular file: a trace needs a seekable file";
  if (S_ISCHR(m)) return "is a character device, not a regular file: a trace needs a regular file";
  if (S_ISBLK(m)) return "is a block device, not a regular file: a trace needs a regular file";
  if (S_ISSOCK(m)) return "is a socket, not a regular file";
  if (S_ISLNK(m)) return "is a symbolic link";
  return "is not a regular file";
}

WalInfo read_wal_info(const std::string& wal_path) {
  WalInfo wi;
  const int fd = ::open(wal_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return wi;
  struct stat sb{};
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0) {
    ::close(fd);
    return wi;
  }
  wi.exists = true;
  wi.size = sb.st_size;
  unsigned char h[32];
  if (pread(fd, h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) {
    ::close(fd);
    return wi;
  }
  const std::uint32_t magic = be32(h);
  const std::uint32_t ps = be32(h + 8);
  if ((magic != 0x377f0682 && magic != 0x377f0683) || ps < 512 || ps > 65536 || (ps & (ps - 1)) != 0) {
    ::close(fd);
    return wi;
  }
  wi.valid = true;
  wi.page_size = ps;
  // The newest frame of page 1 from the current WAL generation (same salts as
  // the header) holds the database header: application_id at offset 68.
  const std::uint64_t frame = 24 + std::uint64_t{ps};
  for (std::uint64_t off = 32; off + frame <= static_cast<std::uint64_t>(sb.st_size); off += frame) {
    unsigned char fh[24];
    if (pread(fd, fh, sizeof fh, static_cast<off_t>(off)) != static_cast<ssize_t>(sizeof fh)) break;
    if (std::memcmp(fh + 8, h + 16, 8) != 0) break;  // salts differ: stale frames of an older generation
    if (be32(fh) != 1) continue;
    unsigned char app[4];
    if (pread(fd, app, sizeof app, static_cast<off_t>(off + 24 + 68)) != 4) break;
    wi.has_page1 = true;
    wi.application_id = be32(app);
  }
  ::close(fd);
  return wi;
}

std::string replaceable_trace(int fd, const std::string& path) {
  struct stat sb{};
  if (fstat(fd, &sb) != 0) return std::strerror(errno);
  if (!S_ISREG(sb.st_mode)) return "it " + describe_non_regular(sb.st_mode);
  const auto ours = static_cast<std::uint32_t>(schema::kApplicationId);
  std::uint32_t app = 0;
  if (sb.st_size > 0) {
    unsigned char h[100];
    const ssize_t n = pread(fd, h, sizeof h, 0);
    if (n != static_cast<ssize_t>(sizeof h) || std::memcmp(h, "SQLite format 3", 16) != 0)
      return "it is not a ctxscope trace (" + std::to_string(sb.st_size) +
             " bytes of other data); remove it or choose another path";
    app = be32(h + 68);
    if (app == ours) return {};
    if (app != 0)
      return "it is another application's SQLite database (application_id " + hex32(app) +
             ", a ctxscope trace has " + hex32(ours) + ")";
  }
  // An empty main file, or a SQLite database without application_id: only a
  // ctxscope trace whose header is still in its WAL (never checkpointed) is
  // replaced; an empty file with no WAL is free to use.
  const WalInfo wi = read_wal_info(path + "-wal");
  if (!wi.exists) {
    if (sb.st_size == 0) return {};
    return "it is a SQLite database that is not a ctxscope trace (application_id 0x00000000)";
  }
  if (wi.valid && wi.has_page1 && wi.application_id == ours) return {};
  if (sb.st_size == 0)
    return "it is empty but " + path + "-wal beside it holds " +
           (wi.valid ? std::string("another application's SQLite data") : std::string("data that is not a SQLite WAL"));
  return "it is a SQLite database that is not a ctxscope trace (application_id 0x00000000)";
}

}  // namespace ctxscope::trace::detail
