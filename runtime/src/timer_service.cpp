#include "timer_service.hpp"

#include <pthread.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace ctxscope::detail {
namespace {

constexpr std::size_t npos = static_cast<std::size_t>(-1);

class TimerService {
 public:
  void add(TimerNode* n) {
    std::lock_guard g(mu_);
    n->heap_index = heap_.size();
    heap_.push_back(n);
    sift_up(n->heap_index);
    if (!started_) {
      started_ = true;
      std::thread([this] { run(); }).detach();  // lives for the process; never joined
    }
    // Wake the thread only if it would otherwise sleep past this deadline:
    // creating and cancelling far-off timeouts in a loop then costs no syscall.
    if (n->deadline < wake_at_) cv_.notify_one();
  }

  void remove(TimerNode* n) noexcept {
    std::lock_guard g(mu_);
    if (n->heap_index != npos) erase(n->heap_index);
  }

 private:
  void run() {
    pthread_setname_np(pthread_self(), "ctxscope-timer");
    std::unique_lock lk(mu_);
    for (;;) {
      const auto now = std::chrono::steady_clock::now();
      if (heap_.empty()) {
        // Keep an earlier wake-up time if one is pending rather than waking
        // on every add after the heap drained.
        if (wake_at_ <= now || wake_at_ == kNever) {
          wake_at_ = kNever;
          cv_.wait(lk);
        } else {
          cv_.wait_until(lk, wake_at_);
        }
        continue;
      }
      TimerNode* top = heap_.front();
      if (now < top->deadline) {
        if (top->deadline < wake_at_ || wake_at_ <= now) wake_at_ = top->deadline;
        cv_.wait_until(lk, wake_at_);
        continue;
      }
      erase(0);
      // The node may be dying (refs == 0, its destructor blocked on mu_ to
      // remove itself): then it is simply skipped.
      if (!top->try_ref()) continue;
      lk.unlock();
      // A deadline's cancel is recorded on this thread: name it in the trace first.
      announce_runtime_thread("ctxscope-timer");
      timer_expired(top);
      top->unref();
      lk.lock();
    }
  }

  void erase(std::size_t i) noexcept {
    TimerNode* gone = heap_[i];
    gone->heap_index = npos;
    TimerNode* last = heap_.back();
    heap_.pop_back();
    if (i == heap_.size()) return;
    heap_[i] = last;
    last->heap_index = i;
    sift_down(i);
    sift_up(last->heap_index);
  }
  void swap_at(std::size_t a, std::size_t b) noexcept {
    std::swap(heap_[a], heap_[b]);
    heap_[a]->heap_index = a;
    heap_[b]->heap_index = b;
  }
  void sift_up(std::size_t i) noexcept {
    while (i > 0) {
      std::size_t p = (i - 1) / 2;
      if (!(heap_[i]->deadline < heap_[p]->deadline)) break;
      swap_at(i, p);
      i = p;
    }
  }
  void sift_down(std::size_t i) noexcept {
    for (;;) {
      std::size_t l = 2 * i + 1, r = l + 1, m = i;
      if (l < heap_.size() && heap_[l]->deadline < heap_[m]->deadline) m = l;
      if (r < heap_.size() && heap_[r]->deadline < heap_[m]->deadline) m = r;
      if (m == i) return;
      swap_at(i, m);
      i = m;
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  static constexpr auto kNever = std::chrono::steady_clock::time_point::max();
  std::vector<TimerNode*> heap_;
  std::chrono::steady_clock::time_point wake_at_ = kNever;  ///< when the thread wakes next, at the latest
  bool started_ = false;
};

TimerService& service() {
  static auto* s = new TimerService;  // never destroyed: detached threads may still use it at exit
  return *s;
}

}  // namespace

void timer_add(TimerNode* n) { service().add(n); }
void timer_remove(TimerNode* n) noexcept { service().remove(n); }

}  // namespace ctxscope::detail
