// ChunkedVector: the trace model's arrays — elements never move, copies share
// chunks and never see each other's writes.
#include "ctxscope/analysis/chunked_vector.hpp"

#include <gtest/gtest.h>

#include <cstdint>
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

}  // namespace
