// Channel plumbing shared by every Chan<T>.
#include "ctxscope/chan.hpp"

#include <sched.h>

namespace ctxscope::detail {

void WaitQueue::push(ChanEntry* e) noexcept {
  e->next = nullptr;
  e->prev = tail;
  if (tail) tail->next = e;
  else head = e;
  tail = e;
  e->linked = true;
}

void WaitQueue::remove(ChanEntry* e) noexcept {
  if (!e->linked) return;
  if (e->prev) e->prev->next = e->next;
  else head = e->next;
  if (e->next) e->next->prev = e->prev;
  else tail = e->prev;
  e->prev = e->next = nullptr;
  e->linked = false;
}

ChanEntry* WaitQueue::pop() noexcept {
  ChanEntry* e = head;
  if (e) remove(e);
  return e;
}

ChanCore::ChanCore(std::size_t c, const char* l, std::source_location) noexcept
    : cap(c), id(next_object_id()), label(l) {}

void ChanCore::announce(std::source_location site) noexcept {
  if (EventSink* s = sink()) {
    Event e;
    e.type = EventType::chan_create;
    e.id = id;
    e.value = cap;
    e.text = label;
    e.site = site;
    emit_to(s, e);
  }
}

void ChanCore::note_close(std::source_location site) noexcept {
  if (EventSink* s = sink()) {
    Event e;
    e.type = EventType::chan_close;
    e.id = id;
    e.site = site;
    emit_to(s, e);
  }
}

ChanEntry* ChanCore::claim_retry(WaitQueue& q, std::uint32_t bit) noexcept {
  ChanEntry* got = nullptr;
  while (ChanEntry* e = q.pop())
    if (e->w->try_fire(e->idx)) {
      e->retry = true;
      got = e;
      // The waker is the last thread seen on the other side (Waiter::partner).
      note_side(&q == &recvq ? sender : receiver, this_thread_rec());
      break;
    }
  note_left(q, bit);
  return got;
}

Waiter* ChanCore::kick(WaitQueue& q, std::uint32_t bit) noexcept {
  LockGuard g(lock);
  ChanEntry* e = claim_retry(q, bit);
  return e != nullptr ? e->w : nullptr;
}

void ring_backoff(unsigned round) noexcept {
  if (round < 16) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  } else {
    sched_yield();
  }
}

void ChanCore::throw_closed(const char* what) { throw closed_channel_error(what); }

}  // namespace ctxscope::detail
