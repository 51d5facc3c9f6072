// ChunkedVector: the trace model's arrays — elements never move, copies share
// chunks and never see each other's writes.
#include "ctxscope/analysis/chunked_vector.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using ctxscope::analysis::ChunkedVector;
namespace detail = ctxscope::analysis::detail;

// 64 KiB elements: 32 to a chunk, so a test crosses chunk boundaries with a
// few hundred elements.  The string checks element lifetimes under ASan.
struct Big {
  std::uint64_t v = 0;
  std::string s;
  char pad[(1 << 16) - sizeof(std::uint64_t) - sizeof(std::string)] = {};
  Big() = default;
  explicit Big(std::uint64_t x) : v(x), s("value " + std::to_string(x) + " with a heap-allocated tail") {}
};
static_assert(ChunkedVector<Big>::kPerChunk == 32);
constexpr std::size_t K = ChunkedVector<Big>::kPerChunk;

void fill(ChunkedVector<Big>& v, std::size_t n, std::uint64_t base = 0) {
  for (std::size_t i = 0; i < n; ++i) v.emplace_back(base + i);
}
std::vector<std::uint64_t> values(const ChunkedVector<Big>& v) {
  std::vector<std::uint64_t> out;
  for (const Big& b : v) {
    EXPECT_EQ(b.s, Big(b.v).s);
    out.push_back(b.v);
  }
  return out;
}
std::vector<std::uint64_t> iota(std::size_t n, std::uint64_t base = 0) {
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(base + i);
  return out;
}

// The first chunk grows like a std::vector until it is full (a small model
// stays small); from then on no append moves an element.
TEST(ChunkedVector, AppendingNeverMovesAnElementOfAFullChunk) {
  ChunkedVector<Big> v;
  fill(v, K + 3);
  const Big* first = &v[0];
  fill(v, 5 * K - K, K + 3);
  const Big* in_second_chunk = &v[K + 1];
  fill(v, 5 * K, 3 + 5 * K);
  EXPECT_EQ(&v[0], first);
  EXPECT_EQ(&v[K + 1], in_second_chunk);
  EXPECT_EQ(values(v), iota(3 + 10 * K));
}

TEST(ChunkedVector, ACopySharesItsChunksAndNeitherSeesTheOthersWrites) {
  ChunkedVector<Big> a;
  fill(a, 3 * K + 5);
  const ChunkedVector<Big> b = a;
  EXPECT_EQ(&b[K], &a[K]);  // shared, not copied
  // The original writes an element of a shared chunk and appends to the shared last chunk.
  a.mut(K + 2) = Big(1000);
  a.emplace_back(2000);
  EXPECT_NE(&a[K], &b[K]);          // that chunk was copied for the writer
  EXPECT_EQ(&a[2 * K], &b[2 * K]);  // the others are still shared
  EXPECT_EQ(values(b), iota(3 * K + 5));
  auto expect_a = iota(3 * K + 5);
  expect_a[K + 2] = 1000;
  expect_a.push_back(2000);
  EXPECT_EQ(values(a), expect_a);
  // And the copy may write too, unseen by the original.
  ChunkedVector<Big> c = b;
  c.mut(0) = Big(7);
  c.truncate(K);
  EXPECT_EQ(values(b), iota(3 * K + 5));
  EXPECT_EQ(c.size(), K);
  EXPECT_EQ(c[0].v, 7u);
  // A copy of a copy, assigned over a vector that had chunks of its own.
  ChunkedVector<Big> d;
  fill(d, 2 * K, 500);
  d = a;
  d.mut(3 * K) = Big(9);
  EXPECT_EQ(values(a), expect_a);
  EXPECT_EQ(d[3 * K].v, 9u);
}

TEST(ChunkedVector, AWriteAfterTheCopyIsGoneIsInPlace) {
  ChunkedVector<Big> a;
  fill(a, 2 * K);
  { const ChunkedVector<Big> snapshot = a; }
  a.mut(1) = Big(77);  // copies chunk 0 once (the generation changed), then writes in place
  const Big* p = &a[1];
  a.mut(1) = Big(78);
  EXPECT_EQ(&a[1], p);
  EXPECT_EQ(a[1].v, 78u);
}

TEST(ChunkedVector, AnAdoptedArrayContinuesTheIndicesAcrossAPartialChunk) {
  ChunkedVector<Big> v;
  fill(v, K + 7);  // the last chunk partial
  detail::BigVector<Big> rows;
  for (std::uint64_t i = 0; i < 3 * K + 3; ++i) rows.emplace_back(K + 7 + i);
  v.adopt(std::move(rows));
  EXPECT_EQ(values(v), iota(4 * K + 10));
  const ChunkedVector<Big> snapshot = v;
  v.mut(2 * K + 1) = Big(1);  // a chunk that views the adopted block
  fill(v, K, 4 * K + 10);      // the last chunk views the block's tail
  v.truncate(3 * K);
  fill(v, 2, 3 * K);
  EXPECT_EQ(values(snapshot), iota(4 * K + 10));
  auto expect = iota(3 * K + 2);
  expect[2 * K + 1] = 1;
  EXPECT_EQ(values(v), expect);
  // Adopted whole into an empty vector, then read through iterators like a span.
  ChunkedVector<std::uint32_t> ids;
  detail::BigVector<std::uint32_t> sorted;
  for (std::uint32_t i = 0; i < 1000; ++i) sorted.push_back(2 * i);
  ids.adopt(std::move(sorted));
  EXPECT_EQ(std::lower_bound(ids.begin(), ids.end(), 901u) - ids.begin(), 451);
  ids.append(3, 7u);
  EXPECT_EQ(ids.size(), 1003u);
  EXPECT_EQ(ids[1002], 7u);
}

// Two parts of a table read from both ends (the model's parallel load): rows
// moved across the meeting point the fewer way until the lower part fills
// whole chunks; then both are adopted without copying an element (the
// elements keep the addresses they were read to).
TEST(ChunkedVector, PartsReadFromBothEndsMeetAtAChunkBoundaryAndAreAdoptedInPlace) {
  EXPECT_EQ(detail::meeting_shift(2 * K, 5, K), 0);
  EXPECT_EQ(detail::meeting_shift(2 * K + 1, 5 * K, K), -1);         // one lower row up
  EXPECT_EQ(detail::meeting_shift(2 * K + K - 1, 5 * K, K), 1);      // one upper row down
  EXPECT_EQ(detail::meeting_shift(K + K / 2, 5 * K, K), static_cast<std::ptrdiff_t>(K / 2));  // a tie: down
  EXPECT_EQ(detail::meeting_shift(K + 10, 3, K), 3);                 // the whole upper part
  EXPECT_EQ(detail::meeting_shift(K + 2, 3, K), -2);                 // fewer lower rows than upper
  EXPECT_EQ(detail::meeting_shift(0, 7, K), 0);
  for (std::size_t meet : {std::size_t{0}, std::size_t{1}, K - 1, K, K + 3, 2 * K - 2, 3 * K + K / 2, 4 * K}) {
    const std::size_t n = 4 * K + 5;  // rows 0..n-1; the lower reader took [0, meet)
    detail::BigVector<Big> lower, upper;
    lower.reserve(n);
    upper.reserve(n);
    for (std::size_t i = 0; i < meet; ++i) lower.emplace_back(i);
    for (std::size_t i = n; i-- > meet;) upper.emplace_back(i);  // descending
    const auto shift = detail::meeting_shift(lower.size(), upper.size(), K);
    EXPECT_LE(static_cast<std::size_t>(std::abs(shift)), K / 2 + 1) << "meet " << meet;
    detail::shift_meeting(lower, upper, shift);
    EXPECT_TRUE(lower.size() % K == 0 || upper.empty()) << "meet " << meet;
    std::reverse(upper.begin(), upper.end());
    const Big* low_at = lower.data();
    const Big* up_at = upper.data();
    const std::size_t low_n = lower.size();
    ChunkedVector<Big> v;
    v.adopt(std::move(lower));
    v.adopt(std::move(upper));
    EXPECT_EQ(values(v), iota(n)) << "meet " << meet;
    if (low_n > 0) {
      EXPECT_EQ(&v[0], low_at) << "meet " << meet;
    }
    if (low_n < n) {
      EXPECT_EQ(&v[low_n], up_at) << "meet " << meet << ": the upper part was copied";
      EXPECT_EQ(&v[n - 1], up_at + (n - 1 - low_n)) << "meet " << meet;
    }
  }
}

// A live model's first update after a load appends to arrays whose last
// chunk views the end of a loaded block: with room in the block, in place
// (no copy of the chunk) — until a copy shares the chunk, when the writer
// copies it and the copy keeps seeing the block unchanged.
TEST(ChunkedVector, AnAdoptedBlockWithRoomGrowsInPlaceUntilACopySharesIt) {
  detail::BigVector<Big> rows;
  rows.reserve(3 * K);
  for (std::uint64_t i = 0; i < K + 5; ++i) rows.emplace_back(i);
  const Big* base = rows.data();
  ChunkedVector<Big> v;
  v.adopt(std::move(rows));
  v.emplace_back(K + 5);
  EXPECT_EQ(&v[K + 5], base + K + 5) << "appended in place";
  EXPECT_EQ(&v[0], base);
  v.truncate(K + 2);  // shrinks the block's end in place
  v.emplace_back(K + 2);
  EXPECT_EQ(&v[K + 2], base + K + 2);
  EXPECT_EQ(values(v), iota(K + 3));
  const ChunkedVector<Big> snapshot = v;
  v.emplace_back(999);
  EXPECT_NE(&v[K], base + K) << "a chunk a copy shares was written";
  EXPECT_EQ(&snapshot[K], base + K);
  EXPECT_EQ(&v[0], base) << "only the written chunk is copied";
  EXPECT_EQ(values(snapshot), iota(K + 3));
  auto expect = iota(K + 3);
  expect.push_back(999);
  EXPECT_EQ(values(v), expect);
  v.truncate(K + 1);
  EXPECT_EQ(values(snapshot), iota(K + 3));
  // A block without room: the chunk is copied once, with a whole chunk's room.
  detail::BigVector<Big> exact;
  for (std::uint64_t i = 0; i < K + 5; ++i) exact.emplace_back(i);
  ChunkedVector<Big> w;
  w.adopt(std::move(exact));
  fill(w, K - 5, K + 5);
  EXPECT_EQ(values(w), iota(2 * K));
}

// The first chunk grows like a std::vector while small, and takes a whole
// chunk's room once it holds an eighth of one: it is never moved again, so no
// append copies most of a chunk into a fresh block.
TEST(ChunkedVector, AFirstChunkPastAnEighthTakesAWholeChunkAndStaysPut) {
  using V = ChunkedVector<std::uint32_t>;
  V v;
  v.append(V::kPerChunk / 8 + 1, 7u);
  const std::uint32_t* first = &v[0];
  for (std::size_t i = v.size(); i < V::kPerChunk; ++i) v.push_back(static_cast<std::uint32_t>(i));
  EXPECT_EQ(&v[0], first);
  v.append(V::kPerChunk / 2, 9u);  // into a second chunk
  EXPECT_EQ(&v[0], first);
  EXPECT_EQ(v.size(), V::kPerChunk + V::kPerChunk / 2);
  EXPECT_EQ(v[V::kPerChunk - 1], V::kPerChunk - 1);
  EXPECT_EQ(v[V::kPerChunk], 9u);
  V small;
  small.push_back(1);
  EXPECT_LT(small.memory_bytes(), 4096u) << "a small vector stays small";
}

}  // namespace
