// Goroutine-like threads, WaitGroup, errgroup, sleep.
#include "ctxscope/go.hpp"
#include "ctxscope/trace.hpp"

#include <pthread.h>

#include <cstdio>
#include <exception>
#include <stdexcept>
#include <vector>
#include <string>
#include <thread>

#include "ctxscope/chan.hpp"

namespace ctxscope {
namespace {

thread_local detail::Node* t_context = nullptr;  // owned reference, set by go()

}  // namespace

std::uint64_t go(const Context& ctx, std::string_view name, std::function<void()> fn, std::source_location loc) {
  const std::uint64_t tid = detail::reserve_thread_id();
  const char* nm = detail::intern(name);
  detail::emit_thread(EventType::thread_spawn, tid, ctx.id(), detail::current_thread_id(), nm, loc);
  std::thread([ctx, fn = std::move(fn), tid, nm, scope = detail::scope_for_child()]() mutable {
    detail::adopt_thread_id(tid);
    detail::set_thread_scope(scope);
    char short_name[16];
    std::snprintf(short_name, sizeof short_name, "%s", nm);
    pthread_setname_np(pthread_self(), short_name);
    detail::Node* n = ctx.node();
    n->ref();
    t_context = n;
    try {
      fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ctxscope: exception escaped goroutine '%s': %s\n", nm, e.what());
      trace::flush();  // abort() skips atexit: commit what was recorded (the trace says why it ended: it did not)
      std::abort();
    } catch (...) {
      std::fprintf(stderr, "ctxscope: exception escaped goroutine '%s'\n", nm);
      trace::flush();
      std::abort();
    }
    fn = nullptr;  // release captures before announcing the exit
    detail::emit_thread(EventType::thread_exit, tid, 0, 0, nullptr, {});
    t_context = nullptr;
    n->unref();
  }).detach();
  return tid;
}

Context current_context() {
  if (t_context == nullptr) return background();
  t_context->ref();
  return Context(t_context);
}

// WaitGroup ------------------------------------------------------------------

struct WaitGroup::State {
  detail::Lock lock;
  std::int64_t count = 0;
  std::uint64_t id = detail::next_object_id();
  detail::WaitQueue waiters;
};

namespace {

class WaitGroupCase final : public detail::SelectCase {
 public:
  WaitGroupCase(WaitGroup::State* s, std::source_location loc) : s_(s) { site = loc; }
  detail::Lock* lock() noexcept override { return &s_->lock; }
  bool try_now() override { return s_->count == 0; }
  void enqueue(detail::Waiter* w, int idx) override {
    e_.w = w;
    e_.idx = idx;
    s_->waiters.push(&e_);
  }
  void dequeue() noexcept override {
    detail::LockGuard g(s_->lock);
    s_->waiters.remove(&e_);
  }
  WaitObject object() const noexcept override { return WaitObject::waitgroup; }
  std::uint64_t object_id() const noexcept override { return s_->id; }

 private:
  WaitGroup::State* s_;
  detail::ChanEntry e_;
};

}  // namespace

WaitGroup::WaitGroup() : s_(std::make_shared<State>()) {}

void WaitGroup::add(int n) {
  // The last done() may let a waiter return from wait() and destroy this
  // WaitGroup at once — Go's `defer wg.Done()` in a goroutine that captured
  // the group by reference, its state's last owner gone with it.  So the state
  // is held here, the waiters are claimed under the lock and woken after it is
  // released, and `this` is not touched once the count reached zero.  A
  // claimed waiter stays parked until its wake() (select.hpp), so its Waiter
  // outlives the unlock.
  const std::shared_ptr<State> s = s_;
  std::vector<detail::Waiter*> claimed;
  {
    detail::LockGuard g(s->lock);
    s->count += n;
    if (s->count < 0) {
      s->count -= n;
      throw std::logic_error("ctxscope::WaitGroup: negative counter");
    }
    if (s->count == 0)
      while (detail::ChanEntry* e = s->waiters.pop())
        if (e->w->try_fire(e->idx)) claimed.push_back(e->w);
  }
  for (detail::Waiter* w : claimed) w->wake();
}

std::uint64_t WaitGroup::id() const noexcept { return s_->id; }

std::error_code WaitGroup::wait_impl(const Context* ctx, WaitObject obj, std::uint64_t obj_id,
                                     std::source_location loc) const {
  WaitGroupCase c(s_.get(), loc);
  if (ctx == nullptr) {
    detail::SelectCase* cs[] = {&c};
    detail::select_impl(cs, 1, 0, &obj, obj_id);
    return {};
  }
  Done d = ctx->done(loc);
  detail::SelectCase* cs[] = {&c, &d};
  if (detail::select_impl(cs, 2, 0, &obj, obj_id) == 1) return ctx->err(loc);
  return {};
}

void WaitGroup::wait(std::source_location loc) const { wait_impl(nullptr, WaitObject::waitgroup, s_->id, loc); }

std::error_code WaitGroup::wait(const Context& ctx, std::source_location loc) const {
  return wait_impl(&ctx, WaitObject::waitgroup, s_->id, loc);
}

// Group ----------------------------------------------------------------------

struct Group::State {
  std::optional<Context> ctx;
  CancelCauseFunc cancel;
  WaitGroup wg;
  detail::Lock lock;
  std::error_code err;
  bool failed = false;
  std::unique_ptr<Chan<char>> sem;  // Go's errgroup: a buffered channel as semaphore
  std::int64_t active = 0;
  std::uint64_t id = detail::next_object_id();
};

Group::Group() : s_(std::make_shared<State>()) {}

std::pair<Group, Context> Group::with_context(const Context& parent, std::source_location loc) {
  Group g;
  auto [ctx, cancel] = with_cancel_cause(parent, loc);
  g.s_->ctx = ctx;
  g.s_->cancel = std::move(cancel);
  return {std::move(g), std::move(ctx)};
}

void Group::go(Fn fn, std::source_location loc) { start("errgroup", std::move(fn), true, loc); }
void Group::go(std::string_view name, Fn fn, std::source_location loc) { start(name, std::move(fn), true, loc); }
bool Group::try_go(Fn fn, std::source_location loc) { return start("errgroup", std::move(fn), false, loc); }

void Group::set_limit(int n) {
  detail::LockGuard g(s_->lock);
  if (s_->active != 0) throw std::logic_error("ctxscope::Group: set_limit while goroutines are active");
  if (n < 0) s_->sem.reset();
  else s_->sem = std::make_unique<Chan<char>>(static_cast<std::size_t>(n), "errgroup limit");
}

bool Group::start(std::string_view name, Fn fn, bool block, std::source_location loc) {
  Chan<char>* sem;
  {
    detail::LockGuard g(s_->lock);
    sem = s_->sem.get();
  }
  if (sem != nullptr) {
    if (block) sem->send(0, loc);
    else if (!sem->try_send(0, loc)) return false;
  }
  s_->wg.add(1);
  {
    detail::LockGuard g(s_->lock);
    ++s_->active;
  }
  Context ctx = s_->ctx ? *s_->ctx : current_context();
  ctxscope::go(ctx, name, [s = s_, fn = std::move(fn), sem] {
    std::error_code e = fn();
    {
      detail::LockGuard g(s->lock);
      if (e && !s->failed) {
        s->failed = true;
        s->err = e;
      }
      --s->active;
    }
    if (e && s->cancel) s->cancel(e);
    if (sem != nullptr) sem->try_recv();
    s->wg.done();
  }, loc);
  return true;
}

std::error_code Group::wait(std::source_location loc) {
  s_->wg.wait_impl(nullptr, WaitObject::group, s_->id, loc);
  if (s_->cancel) s_->cancel(s_->err, loc);
  detail::LockGuard g(s_->lock);
  return s_->err;
}

// sleep ----------------------------------------------------------------------

std::error_code sleep_for(const Context& ctx, Clock::duration d, std::source_location loc) {
  if (d <= Clock::duration::zero()) return ctx.err(loc);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  Done dc = ctx.done(loc);
  detail::SelectCase* cs[] = {&dc};
  const WaitObject obj = WaitObject::sleep;
  if (detail::select_impl(cs, 1, detail::now_ns() + static_cast<std::uint64_t>(ns), &obj) == detail::timed_out)
    return {};
  return ctx.err(loc);
}

}  // namespace ctxscope
