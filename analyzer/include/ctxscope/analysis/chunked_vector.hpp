// ctxscope/analysis/chunked_vector.hpp — the trace model's entity arrays:
// chunked, never moved, shared copy-on-write between snapshots.
//
// A ChunkedVector<T> is a sequence indexed 0..size()-1 like std::vector, but
// its elements live in chunks of about 2 MiB that never move once made:
//
//   - appending never relocates a full chunk (a std::vector's doubling
//     moved half a million contexts on the first update after a load: a
//     100 ms pause in a live viewer, issue 10); only the first chunk grows
//     like a std::vector until it is full, so a small model stays small;
//   - a copy shares every chunk with the original (O(number of chunks), a few
//     hundred pointers for a million entities), and whichever of the two
//     writes a shared chunk first gets its own copy of that chunk only.  So a
//     live viewer publishes a snapshot of a growing model per update at the
//     cost of the chunks the update touched, not of the whole trace (issue 13).
//
// Which chunks a vector may write in place is decided by generations, not by
// reference counts: each vector has a generation, each chunk the generation
// of the vector that made (or copied) it; copying a vector gives the copy and
// the original fresh generations, so neither writes a chunk they share.  A
// shared chunk is therefore never written, and readers of a snapshot need no
// lock.  Element lifetime is the chunk's block's (a std::shared_ptr): a whole
// array adopted from a load is one block, viewed by many chunks.
//
// Reads: operator[] (const), iteration, view().  Writes: mut(i), push_back,
// append, truncate, assign — on one thread, with no reader of the same vector
// (snapshots are other vectors and may be read meanwhile).  What is appended
// must not refer into the vector itself: the last chunk may move first.
//
// The last chunk grows in place where it can: in its own block (the first
// chunk takes a whole chunk's room once it holds an eighth of one), or at the
// end of an adopted block that has room and that no copy shares (a loaded
// model's first updates).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

namespace ctxscope::analysis {

namespace detail {
/// Memory of `bytes` (>= kHugeAllocMin) for a model's large arrays: mapped
/// 2 MiB-aligned and advised as transparent huge pages, so that filling a
/// million-event model takes dozens of page faults instead of tens of
/// thousands (measured: a third of a 1 M-event load's time on the reference
/// VM went to first-touch faults of 4 KiB pages).  Falls back to plain pages
/// where THP is off.  huge_free() takes the same size.
#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer checks bounds only of what malloc hands out: keep it all there.
inline constexpr std::size_t kHugeAllocMin = std::size_t(-1);
#else
inline constexpr std::size_t kHugeAllocMin = std::size_t{1} << 21;
#endif
void* huge_alloc(std::size_t bytes);
void huge_free(void* p, std::size_t bytes) noexcept;

/// std::allocator for small arrays, huge_alloc for large ones.
template <class T>
struct BigAllocator {
  using value_type = T;
  BigAllocator() = default;
  template <class U>
  BigAllocator(const BigAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    const std::size_t bytes = n * sizeof(T);
    if (bytes >= kHugeAllocMin) return static_cast<T*>(huge_alloc(bytes));
    return std::allocator<T>{}.allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    const std::size_t bytes = n * sizeof(T);
    if (bytes >= kHugeAllocMin) huge_free(p, bytes);
    else std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const BigAllocator<U>&) const noexcept { return true; }
};
template <class T>
using BigVector = std::vector<T, BigAllocator<T>>;

/// A table read by two readers from both ends (the trace model's parallel
/// load): `lower` in ascending order, `upper` in descending order (its
/// lowest row last).  How many rows to move across the meeting point so that
/// `lower` fills whole chunks of `per_chunk` elements (or `upper` is empty):
/// > 0 from the back of `upper` to `lower`, < 0 from the back of `lower` to
/// `upper`; the fewer way, at most half a chunk.  Both parts are then adopted
/// by a ChunkedVector without copying a chunk.
inline std::ptrdiff_t meeting_shift(std::size_t lower, std::size_t upper, std::size_t per_chunk) noexcept {
  const std::size_t r = lower % per_chunk;
  if (r == 0) return 0;
  const std::size_t from_upper = std::min(per_chunk - r, upper);
  return from_upper <= r ? static_cast<std::ptrdiff_t>(from_upper) : -static_cast<std::ptrdiff_t>(r);
}
/// Moves rows as meeting_shift() says (`upper` stays in descending order).
template <class V>
void shift_meeting(V& lower, V& upper, std::ptrdiff_t shift) {
  auto move_last = [](V& from, V& to, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      to.push_back(std::move(from.back()));
      from.pop_back();
    }
  };
  if (shift > 0) move_last(upper, lower, static_cast<std::size_t>(shift));
  else if (shift < 0) move_last(lower, upper, static_cast<std::size_t>(-shift));
}

/// A generation no vector has had.
inline std::uint64_t next_chunk_generation() noexcept {
  static std::atomic<std::uint64_t> g{1};
  return g.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace detail

template <class T>
class ChunkedVector;

/// A read-only view of a ChunkedVector (what TraceModel's accessors return):
/// cheap to copy, valid while the vector lives and is not written.
template <class T>
class ChunkedView {
 public:
  class iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;
    iterator() = default;
    iterator(const ChunkedVector<T>* v, std::size_t i) : v_(v), i_(i) {}
    reference operator*() const { return (*v_)[i_]; }
    pointer operator->() const { return &(*v_)[i_]; }
    reference operator[](difference_type n) const { return (*v_)[static_cast<std::size_t>(static_cast<difference_type>(i_) + n)]; }
    iterator& operator++() { ++i_; return *this; }
    iterator operator++(int) { auto t = *this; ++i_; return t; }
    iterator& operator--() { --i_; return *this; }
    iterator operator--(int) { auto t = *this; --i_; return t; }
    iterator& operator+=(difference_type n) { i_ = static_cast<std::size_t>(static_cast<difference_type>(i_) + n); return *this; }
    iterator& operator-=(difference_type n) { return *this += -n; }
    friend iterator operator+(iterator a, difference_type n) { return a += n; }
    friend iterator operator+(difference_type n, iterator a) { return a += n; }
    friend iterator operator-(iterator a, difference_type n) { return a -= n; }
    friend difference_type operator-(const iterator& a, const iterator& b) {
      return static_cast<difference_type>(a.i_) - static_cast<difference_type>(b.i_);
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.i_ == b.i_; }
    friend auto operator<=>(const iterator& a, const iterator& b) { return a.i_ <=> b.i_; }
    std::size_t index() const noexcept { return i_; }

   private:
    const ChunkedVector<T>* v_ = nullptr;
    std::size_t i_ = 0;
  };
  using const_iterator = iterator;
  using value_type = T;
  using size_type = std::size_t;

  ChunkedView() = default;
  explicit ChunkedView(const ChunkedVector<T>& v) : v_(&v) {}
  std::size_t size() const noexcept { return v_ ? v_->size() : 0; }
  bool empty() const noexcept { return size() == 0; }
  const T& operator[](std::size_t i) const { return (*v_)[i]; }
  const T& front() const { return (*v_)[0]; }
  const T& back() const { return (*v_)[size() - 1]; }
  iterator begin() const { return {v_, 0}; }
  iterator end() const { return {v_, size()}; }

 private:
  const ChunkedVector<T>* v_ = nullptr;
};

template <class T>
class ChunkedVector {
 public:
  /// Elements per chunk: as many as fit in 2 MiB (one transparent huge page).
  static constexpr std::size_t kPerChunk = std::max<std::size_t>(1, (std::size_t{1} << 21) / sizeof(T));

  ChunkedVector() = default;
  ChunkedVector(const ChunkedVector& o) : chunks_(o.chunks_), size_(o.size_) {
    // Neither may write what they now share.
    o.gen_.store(detail::next_chunk_generation(), std::memory_order_relaxed);
  }
  ChunkedVector& operator=(const ChunkedVector& o) {
    if (this != &o) {
      chunks_ = o.chunks_;
      size_ = o.size_;
      gen_.store(detail::next_chunk_generation(), std::memory_order_relaxed);
      o.gen_.store(detail::next_chunk_generation(), std::memory_order_relaxed);
    }
    return *this;
  }
  ChunkedVector(ChunkedVector&& o) noexcept
      : chunks_(std::move(o.chunks_)), size_(std::exchange(o.size_, 0)), gen_(o.gen_.load(std::memory_order_relaxed)) {
    o.gen_.store(detail::next_chunk_generation(), std::memory_order_relaxed);
  }
  ChunkedVector& operator=(ChunkedVector&& o) noexcept {
    if (this != &o) {
      chunks_ = std::move(o.chunks_);
      size_ = std::exchange(o.size_, 0);
      gen_.store(o.gen_.load(std::memory_order_relaxed), std::memory_order_relaxed);
      o.chunks_.clear();
      o.gen_.store(detail::next_chunk_generation(), std::memory_order_relaxed);
    }
    return *this;
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  const T& operator[](std::size_t i) const noexcept { return chunks_[i / kPerChunk].data[i % kPerChunk]; }
  const T& back() const noexcept { return (*this)[size_ - 1]; }
  ChunkedView<T> view() const noexcept { return ChunkedView<T>(*this); }
  typename ChunkedView<T>::iterator begin() const { return {this, 0}; }
  typename ChunkedView<T>::iterator end() const { return {this, size_}; }
  /// Number of chunks this vector shares with none other (tests, benches).
  std::size_t chunks() const noexcept { return chunks_.size(); }

  /// Element i for writing: its chunk is copied first if another vector shares it.
  T& mut(std::size_t i) {
    Chunk& c = chunks_[i / kPerChunk];
    if (c.gen != gen()) own(c, chunk_size(i / kPerChunk));
    return c.data[i % kPerChunk];
  }

  void push_back(const T& v) { emplace_back(v); }
  void push_back(T&& v) { emplace_back(std::move(v)); }
  template <class... A>
  T& emplace_back(A&&... a) {
    if (size_ % kPerChunk == 0) new_chunk();
    Chunk& c = chunks_.back();
    const std::size_t n = size_ % kPerChunk;
    writable_end(c, n, n + 1);
    c.block->emplace_back(std::forward<A>(a)...);
    ++size_;
    return c.data[n];
  }
  /// Appends `count` copies of `v`.
  void append(std::size_t count, const T& v) {
    while (count > 0) {
      if (size_ % kPerChunk == 0) new_chunk(std::min(count, kPerChunk));
      Chunk& c = chunks_.back();
      const std::size_t n = size_ % kPerChunk, take = std::min(count, kPerChunk - n);
      writable_end(c, n, n + take);
      c.block->insert(c.block->end(), take, v);
      size_ += take;
      count -= take;
    }
  }
  /// Appends copies of [first, last).
  template <class It>
  void append(It first, It last) {
    for (; first != last; ++first) emplace_back(*first);
  }
  /// Appends every element of `rows` without copying them: the array becomes
  /// one shared block that this vector's chunks view (what a load adopts).
  void adopt(detail::BigVector<T>&& rows) {
    std::size_t at = 0;
    // Fill the last chunk first, so chunk boundaries stay at multiples of
    // kPerChunk: in a block of a whole chunk's room (one allocation, no regrowth).
    if (const std::size_t n = size_ % kPerChunk; n != 0 && !rows.empty())
      writable_end(chunks_.back(), n, std::min(n + rows.size(), kPerChunk), kPerChunk);
    while (size_ % kPerChunk != 0 && at < rows.size()) emplace_back(std::move(rows[at++]));
    if (at == rows.size()) return;
    auto block = std::make_shared<detail::BigVector<T>>(std::move(rows));
    for (; at < block->size(); at += kPerChunk) {
      chunks_.push_back(Chunk{block, block->data() + at, gen(), false});
      size_ += std::min(kPerChunk, block->size() - at);
    }
  }
  /// Keeps the first n elements.
  void truncate(std::size_t n) {
    if (n >= size_) return;
    const std::size_t keep = n % kPerChunk, ci = n / kPerChunk;
    const std::size_t len = keep != 0 ? chunk_size(ci) : 0;  // the new last chunk's length before
    chunks_.resize((n + kPerChunk - 1) / kPerChunk);
    size_ = n;
    if (keep == 0) return;
    Chunk& c = chunks_.back();
    if (c.gen == gen() && c.own) c.block->resize(keep);
    else if (c.gen == gen() && c.data + len == c.block->data() + c.block->size())
      c.block->resize(c.block->size() - (len - keep));  // the end of an adopted block: shrunk in place
    else own(c, keep);
  }
  void clear() noexcept {
    chunks_.clear();
    size_ = 0;
  }
  /// Replaces the contents with a copy of `v`.
  template <class Range>
  void assign(const Range& v) {
    clear();
    append(std::begin(v), std::end(v));
  }

  /// Bytes of element storage this vector reaches (shared blocks counted whole once per chunk).
  std::size_t memory_bytes() const noexcept { return size_ * sizeof(T) + chunks_.size() * sizeof(Chunk); }

 private:
  struct Chunk {
    std::shared_ptr<detail::BigVector<T>> block;  // owns the elements
    T* data = nullptr;                            // this chunk's first element, in block
    std::uint64_t gen = 0;                        // == the vector's gen(): only it holds this chunk
    bool own = false;                             // block holds this chunk alone, from its start (may grow)
  };
  std::uint64_t gen() const noexcept { return gen_.load(std::memory_order_relaxed); }
  /// Chunk `c` (holding `n` elements) is this vector's alone and views the
  /// end of an adopted block with room for `more`: it grows in place (a
  /// model's first update after a load appended without copying the chunk).
  bool grows_in_place(const Chunk& c, std::size_t n, std::size_t more) const noexcept {
    return c.gen == gen() && c.data + n == c.block->data() + c.block->size() &&
           c.block->capacity() - c.block->size() >= more;
  }
  std::size_t chunk_size(std::size_t ci) const noexcept {
    return ci + 1 < chunks_.size() ? kPerChunk : size_ - ci * kPerChunk;
  }
  void new_chunk(std::size_t first_fill = 1) {
    auto block = std::make_shared<detail::BigVector<T>>();
    // The first chunk grows like a std::vector (small models stay small); later ones are made whole.
    block->reserve(chunks_.empty() ? first_room(first_fill) : kPerChunk);
    chunks_.push_back(Chunk{block, block->data(), gen(), true});
  }
  /// Room for a growing first chunk that must hold `need`: doubling, but a
  /// whole chunk once that is an eighth of one or more — so the chunk that
  /// grows is never copied at half its size into a fresh 2 MiB block (the
  /// first update after a load that filled most of a chunk: 8-10 ms of copy
  /// and page faults on the reference VM).
  static std::size_t first_room(std::size_t need) noexcept {
    const std::size_t n = std::max<std::size_t>(need, 16);
    return n >= kPerChunk / 8 ? kPerChunk : n;
  }
  /// Makes the last chunk `c` (holding `n` elements) writable at its end with
  /// room for `need` elements, so that appending up to `need` moves nothing:
  /// in place where it can — its own block (regrown at most to a chunk), or
  /// the end of an adopted block with room that no copy shares — else a
  /// block of its own with room for `need` (and `room` when larger).
  void writable_end(Chunk& c, std::size_t n, std::size_t need, std::size_t room = 0) {
    if (c.gen == gen() && c.own) {
      if (c.block->capacity() >= std::max(need, room)) return;
      c.block->reserve(std::max({need, room, first_room(2 * c.block->capacity())}));
      c.data = c.block->data();
    } else if (!grows_in_place(c, n, need - n)) {
      own(c, n, std::max(need, room));
    }
  }
  /// Gives chunk `c` (holding `n` elements) a block of its own, with room to
  /// grow (at least `room` elements when it is the last chunk).
  void own(Chunk& c, std::size_t n, std::size_t room = 0) {
    auto block = std::make_shared<detail::BigVector<T>>();
    const bool last = &c == &chunks_.back();
    block->reserve(last ? std::max(room, std::min(kPerChunk, std::max<std::size_t>(16, 2 * n))) : n);
    block->insert(block->end(), c.data, c.data + n);
    c = Chunk{std::move(block), nullptr, gen(), true};
    c.data = c.block->data();
  }

  std::vector<Chunk> chunks_;
  std::size_t size_ = 0;
  mutable std::atomic<std::uint64_t> gen_{detail::next_chunk_generation()};
};

}  // namespace ctxscope::analysis
