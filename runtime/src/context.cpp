// The context tree: creation, registration, cancellation and its propagation.
#include "ctxscope/context.hpp"

#include <cstdio>
#include <thread>
#include <tuple>
#include <vector>

#include "timer_service.hpp"

namespace ctxscope {
namespace {

class ContextCategory final : public std::error_category {
 public:
  constexpr ContextCategory() noexcept = default;
  const char* name() const noexcept override { return "ctxscope.context"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::canceled: return "context canceled";
      case errc::deadline_exceeded: return "context deadline exceeded";
    }
    return "unknown context error";
  }
  std::error_condition default_error_condition(int c) const noexcept override {
    switch (static_cast<errc>(c)) {
      case errc::canceled: return std::errc::operation_canceled;
      case errc::deadline_exceeded: return std::errc::timed_out;
    }
    return {c, *this};
  }
};

}  // namespace

// Never destroyed: threads still cancelling while the process exits (detached
// goroutines, the timer thread) compare and format error codes of this
// category after static destructors have run; a destroyed category is
// undefined behaviour (UBSan: member call on a destroyed error_category).  The
// union's empty destructor leaves the object, and its vtable pointer, intact.
namespace {
union ImmortalCategory {
  ContextCategory c;
  constexpr ImmortalCategory() : c() {}
  ~ImmortalCategory() {}
};
}  // namespace

// Constant-initialized at namespace scope: make_error_code() on every cancel
// reads it without a function-local static's guard.
namespace {
constinit ImmortalCategory g_category;
}  // namespace

const std::error_category& context_category() noexcept { return g_category.c; }

namespace detail {

// ---------------------------------------------------------------- nodes

Node::Node(Kind k, Node* p, std::source_location s, std::uint64_t i) noexcept
    : kind(k), id(i), parent(p), done_src(p ? p->done_src : nullptr), site(s) {}

Node::~Node() {
  if (parent) parent->unref();
}

namespace {
struct RootNode final : Node {
  RootNode(Kind k, std::uint64_t i) noexcept : Node(k, nullptr, {}, i) {
    refs.store(1u << 30, std::memory_order_relaxed);  // pinned: never freed
  }
};

/// stop_token() support: requested (outside any lock) when the node is done.
struct StopListener final : Listener {
  std::stop_source src;
};
}  // namespace

}  // namespace detail

struct StopFunc::State {
  std::atomic<int> status{0};  // 0 pending, 1 started, 2 stopped
  std::function<void()> f;
  std::uint64_t ctx = 0;       // the context it waits on (thread_spawn's context)
  std::source_location site;   // the after_func call
};

namespace detail {
namespace {

struct AfterListener final : Listener {
  std::shared_ptr<StopFunc::State> st;
};

void link(CancelNode* n, Listener* l) noexcept {
  l->prev = nullptr;
  l->next = n->listeners;
  if (n->listeners) n->listeners->prev = l;
  n->listeners = l;
  l->linked = true;
}

void unlink(CancelNode* n, Listener* l) noexcept {
  if (l->prev) l->prev->next = l->next;
  else n->listeners = l->next;
  if (l->next) l->next->prev = l->prev;
  l->prev = l->next = nullptr;
  l->linked = false;
}

/// Owned listeners detached by a cancel, run after every lock is released
/// because they reach user code (stop callbacks, after_func threads).
struct Deferred {
  std::vector<Listener*> owned;
  /// One timestamp for the whole cancel operation — the cancel, its release
  /// and every descendant's cancel and release are one instant — so a traced
  /// cancel reads the clock once (0 = not read yet; only read when tracing).
  std::uint64_t time = 0;
  std::uint64_t stamp() noexcept {
    if (time == 0) time = event_clock();
    return time;
  }
  void run() noexcept {
    if (owned.empty()) [[likely]]
      return;
    run_owned();
  }
  [[gnu::noinline]] void run_owned() noexcept {
    for (Listener* l : owned) {
      if (l->tag == Listener::stop) {
        auto* s = static_cast<StopListener*>(l);
        s->src.request_stop();
        delete s;
      } else {
        auto* a = static_cast<AfterListener*>(l);
        int expected = 0;
        if (a->st->status.compare_exchange_strong(expected, 1)) {
          try {
            // Announced like a go() thread; the id is adopted before f runs.
            const std::uint64_t tid = reserve_thread_id();
            emit_thread(EventType::thread_spawn, tid, a->st->ctx, current_thread_id(), "after_func", a->st->site);
            std::thread([st = a->st, tid, scope = scope_for_child()] {
              adopt_thread_id(tid);
              set_thread_scope(scope);
              st->f();
              emit_thread(EventType::thread_exit, tid, 0, 0, nullptr, {});
            }).detach();
          } catch (...) {
            std::fputs("ctxscope: could not start an after_func thread\n", stderr);
          }
        }
        delete a;
      }
    }
  }
};

// The emit_* helpers are out of line and take the sink: a call site pays only
// the inline sink() check when nothing is recording.
[[gnu::noinline]] void emit_cancel_to(EventSink* s, CancelNode* n, errc err, const std::error_code& cause,
                                      CancelReason why, std::uint64_t direct, std::uint64_t origin,
                                      std::source_location site, bool noop, bool releases, Deferred& op) noexcept {
  {
    Event e;
    e.time = op.stamp();
    e.type = EventType::ctx_cancel;
    e.id = n->id;
    e.ref = direct;
    e.value = origin;
    e.kind = static_cast<std::uint8_t>(why);
    e.err = static_cast<std::uint8_t>(err);
    e.code = cause.value();
    e.text = cause ? cause.category().name() : nullptr;
    e.site = site;
    e.aux = static_cast<std::uint8_t>((noop ? 1 : 0) | (releases ? kCancelReleases : 0));
    if (releases) e.ref = n->parent->id;
    emit_to(s, e);
  }
}

inline void emit_cancel(CancelNode* n, errc err, const std::error_code& cause, CancelReason why,
                        std::uint64_t direct, std::uint64_t origin, std::source_location site,
                        bool noop, bool releases, Deferred& op) noexcept {
  if (EventSink* s = sink()) [[unlikely]]
    emit_cancel_to(s, n, err, cause, why, direct, origin, site, noop, releases, op);
}

[[gnu::noinline]] void emit_release_to(EventSink* s, CancelNode* n, ReleaseReason r, Deferred* op) noexcept {
  {
    Event e;
    if (op != nullptr) e.time = op->stamp();
    e.type = EventType::ctx_release;
    e.id = n->id;
    e.ref = n->parent ? n->parent->id : 0;
    e.kind = static_cast<std::uint8_t>(r);
    emit_to(s, e);
  }
}

inline void emit_release(CancelNode* n, ReleaseReason r, Deferred* op) noexcept {
  if (EventSink* s = sink()) [[unlikely]] emit_release_to(s, n, r, op);
}

/// Marks n done and cancels its registered subtree.  Waiters are woken under
/// the lock (no user code); owned listeners go to `d`.  Returns false if n was
/// already done.
/// `own`: n's own cancel (explicit or deadline), which releases it if registered.
bool cancel_node(CancelNode* n, errc err, const std::error_code& cause, CancelReason why,
                 std::uint64_t direct, std::uint64_t origin, std::source_location site,
                 Deferred& d, bool own = false) noexcept {
  n->lock.lock();
  if (n->state.load(std::memory_order_relaxed) != 0) {
    n->lock.unlock();
    return false;
  }
  n->cause = cause ? cause : make_error_code(err);
  n->state.store(static_cast<std::uint8_t>(err), std::memory_order_release);
  // An own cancel of a registered context is also its release, at the same
  // instant: still registered now means that either its own unregister will
  // unlink it, or a parent's cancel already detached it and is about to find it
  // done (it takes this lock next).  One event says both, and neither of them
  // records another release.  Only when tracing: the flag is about events.
  const bool releases = own && sink() != nullptr && n->registered.load(std::memory_order_relaxed);
  if (releases) n->release_in_cancel.store(true, std::memory_order_relaxed);
  emit_cancel(n, err, n->cause, why, direct, origin, site, false, releases, d);
  const std::uint64_t from = origin ? origin : n->id;
  Listener* l = n->listeners;
  n->listeners = nullptr;
  while (l != nullptr) {
    Listener* next = l->next;
    l->prev = l->next = nullptr;
    l->linked = false;
    switch (l->tag) {
      case Listener::child: {
        CancelNode* c = static_cast<ChildLink*>(l)->self;
        // Already done by its own cancel, which recorded its release: nothing to add.
        if (!cancel_node(c, err, n->cause, CancelReason::parent, n->id, from, {}, d) &&
            c->release_in_cancel.load(std::memory_order_relaxed))
          break;
        emit_release(c, ReleaseReason::parent, &d);
        break;
      }
      case Listener::waiter: {
        auto* w = static_cast<WaitListener*>(l);
        if (w->w->try_fire(w->idx)) w->w->wake();
        break;
      }
      case Listener::stop:
      case Listener::after:
        d.owned.push_back(l);
        break;
    }
    l = next;
  }
  if (n->kind == Kind::timeout || n->kind == Kind::deadline) timer_remove(static_cast<TimerNode*>(n));
  n->lock.unlock();
  return true;
}

/// Unlinks n from its parent's list if still linked (after its own cancel).
void unregister(CancelNode* n, ReleaseReason r, Deferred* op = nullptr) noexcept {
  // `registered` only goes true -> false, so a false read is final and saves
  // the parent's lock on the common path (destructor after an explicit cancel).
  if (!n->registered.load(std::memory_order_acquire)) return;
  CancelNode* p = n->parent->done_src;
  p->lock.lock();
  const bool was = n->as_child.linked;
  if (was) unlink(p, &n->as_child);
  n->registered.store(false, std::memory_order_release);
  p->lock.unlock();
  if (was && !n->release_in_cancel.load(std::memory_order_relaxed)) emit_release(n, r, op);
}

void cancel_and_unregister(CancelNode* n, errc err, const std::error_code& cause, CancelReason why,
                           std::source_location site) noexcept {
  Deferred d;
  cancel_node(n, err, cause, why, 0, 0, site, d, /*own=*/true);
  unregister(n, ReleaseReason::own_cancel, &d);
  d.run();
}

void explicit_cancel(CancelNode* n, const std::error_code& cause, std::source_location site) noexcept {
  Deferred d;
  if (cancel_node(n, errc::canceled, cause, CancelReason::explicit_call, 0, 0, site, d, /*own=*/true)) {
    // The state change itself is the record; a plain store keeps this path free of another RMW.
    n->cancel_called.store(1, std::memory_order_release);
  } else if (n->cancel_called.exchange(1, std::memory_order_acq_rel) == 0) {
    // Already done (by an ancestor, the deadline, or a racing call): the first
    // explicit call is still recorded, once, so readers know the owner called it.
    emit_cancel(n, errc::canceled, cause, CancelReason::explicit_call, 0, 0, site, true, false, d);
  }
  unregister(n, ReleaseReason::own_cancel, &d);
  d.run();
}

std::uint64_t to_ns(Clock::time_point t) noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

[[gnu::noinline]] void emit_create_to(EventSink* s, Node* n, bool registered, std::uint64_t deadline_ns,
                                      const char* text) noexcept {
  {
    Event e;
    e.type = EventType::ctx_create;
    e.id = n->id;
    e.ref = n->parent ? n->parent->id : 0;
    e.value = deadline_ns;
    e.kind = static_cast<std::uint8_t>(n->kind);
    e.aux = registered ? 1 : 0;
    e.text = text;
    e.site = n->site;
    e.code = static_cast<std::int32_t>(current_scope());
    emit_to(s, e);
  }
}

inline void emit_create(Node* n, bool registered, std::uint64_t deadline_ns, const char* text) noexcept {
  if (EventSink* s = sink()) [[unlikely]] emit_create_to(s, n, registered, deadline_ns, text);
}

/// Registers a new cancelable node with its nearest cancelable ancestor, or
/// makes it born done if that ancestor already is.
void attach(CancelNode* n, std::uint64_t deadline_ns) noexcept {
  CancelNode* p = n->parent->done_src;
  std::uint8_t parent_state = 0;
  std::error_code parent_cause;
  if (p != nullptr) {
    p->lock.lock();
    parent_state = p->state.load(std::memory_order_relaxed);
    if (parent_state == 0) {
      n->registered.store(true, std::memory_order_relaxed);
      link(p, &n->as_child);
    } else {
      parent_cause = p->cause;
    }
    p->lock.unlock();
  }
  emit_create(n, parent_state == 0 && p != nullptr, deadline_ns, nullptr);
  if (parent_state != 0) {
    Deferred d;  // a new node has no listeners: nothing is deferred
    cancel_node(n, static_cast<errc>(parent_state), parent_cause, CancelReason::born_done,
                n->parent->id, p->id, {}, d);
  }
}

std::pair<Context, CancelFunc> make_timer(const Context& parent, Kind k, Clock::time_point d,
                                          std::error_code cause, std::source_location loc) {
  Node* pn = parent.node();
  auto pd = parent.deadline();
  const bool parent_sooner = pd && *pd <= d;
  pn->ref();
  auto* n = new TimerNode(k, pn, loc, parent_sooner ? *pd : d);
  n->deadline_cause = cause;
  n->refs.store(2, std::memory_order_relaxed);  // the Context and the CancelFunc; not yet shared
  attach(n, to_ns(n->deadline));
  if (!parent_sooner && n->state.load(std::memory_order_acquire) == 0) {
    if (Clock::now() >= n->deadline) {
      cancel_and_unregister(n, errc::deadline_exceeded, cause, CancelReason::deadline, {});
    } else {
      n->lock.lock();
      // A cancel racing with creation may already have finished the node; arm
      // the timer only while it is live (cancel_node disarms under this lock).
      if (n->state.load(std::memory_order_relaxed) == 0) timer_add(n);
      n->lock.unlock();
    }
  }
  return {Context(n), CancelFunc(n)};
}

}  // namespace

CancelNode::CancelNode(Kind k, Node* p, std::source_location s) noexcept : Node(k, p, s) {
  done_src = this;
  as_child.self = this;
}

CancelNode::~CancelNode() {
  unregister(this, ReleaseReason::destroyed);
  // Only owned listeners can remain: waiters and children hold references.
  for (Listener* l = listeners; l != nullptr;) {
    Listener* next = l->next;
    if (l->tag == Listener::stop) delete static_cast<StopListener*>(l);
    else if (l->tag == Listener::after) delete static_cast<AfterListener*>(l);
    l = next;
  }
}

TimerNode::TimerNode(Kind k, Node* p, std::source_location s, Clock::time_point d) noexcept
    : CancelNode(k, p, s), deadline(d) {}

// Unregistering here, while the dynamic type is still TimerNode, keeps a
// parent cancelling this dying child (it waits on the parent's lock) from
// seeing a half-destroyed object.
TimerNode::~TimerNode() {
  unregister(this, ReleaseReason::destroyed);
  timer_remove(this);
}

ValueNodeBase::ValueNodeBase(Node* p, const void* k, const char* kn, std::source_location s) noexcept
    : Node(Kind::value, p, s), key(k), key_name(kn) {}

DetachedNode::DetachedNode(Node* p, std::source_location s) noexcept : Node(Kind::without_cancel, p, s) {
  done_src = nullptr;
}

Node* background_node() noexcept {
  static auto* n = new RootNode(Kind::background, 1);
  return n;
}
Node* todo_node() noexcept {
  static auto* n = new RootNode(Kind::todo, 2);
  return n;
}

void note_observed(CancelNode* n, std::source_location site) noexcept {
  if (n->observed.exchange(1, std::memory_order_relaxed) != 0) return;
  if (EventSink* s = sink()) {
    Event e;
    e.type = EventType::done_observed;
    e.id = n->id;
    e.site = site;
    emit_to(s, e);
  }
}

void announce(Node* n) noexcept {
  const char* text = n->kind == Kind::value ? static_cast<ValueNodeBase*>(n)->key_name : nullptr;
  emit_create(n, false, 0, text);
}

void timer_expired(TimerNode* n) noexcept {
  cancel_and_unregister(n, errc::deadline_exceeded, n->deadline_cause, CancelReason::deadline, {});
}

}  // namespace detail

// ---------------------------------------------------------------- public API

Context::Context() noexcept : n_(detail::background_node()), src_(nullptr) { n_->ref(); }

Context background() noexcept { return Context(); }
Context todo() noexcept {
  detail::Node* n = detail::todo_node();
  n->ref();
  return Context(n);
}

std::error_code Context::cause() const noexcept {
  detail::CancelNode* s = src_;
  if (s == nullptr || s->state.load(std::memory_order_acquire) == 0) return {};
  return s->cause;  // written before `state` was published, immutable since
}

std::optional<Clock::time_point> Context::deadline() const noexcept {
  for (const detail::Node* n = n_; n != nullptr; n = n->parent) {
    if (n->kind == Kind::without_cancel) return std::nullopt;
    if (n->kind == Kind::timeout || n->kind == Kind::deadline)
      return static_cast<const detail::TimerNode*>(n)->deadline;
  }
  return std::nullopt;
}

std::stop_token Context::stop_token() const {
  detail::CancelNode* s = n_->done_src;
  if (s == nullptr) return {};
  detail::LockGuard g(s->lock);
  if (s->state.load(std::memory_order_relaxed) != 0) {
    std::stop_source done;
    done.request_stop();
    return done.get_token();
  }
  for (detail::Listener* l = s->listeners; l != nullptr; l = l->next)
    if (l->tag == detail::Listener::stop) return static_cast<detail::StopListener*>(l)->src.get_token();
  auto* l = new detail::StopListener;
  l->tag = detail::Listener::stop;
  detail::link(s, l);
  return l->src.get_token();
}

Context Context::parent() const noexcept {
  detail::Node* p = n_->parent ? n_->parent : n_;
  p->ref();
  return Context(p);
}

// CancelFunc ---------------------------------------------------------------

CancelFunc::CancelFunc(const CancelFunc& o) noexcept : n_(o.n_) {
  if (n_) {
    n_->ref();
    n_->cancel_refs.fetch_add(1, std::memory_order_relaxed);
  }
}

void CancelFunc::release() noexcept {
  // cancel_refs only serves the "last copy dropped uncalled" record; once any
  // copy has been called (cancel_called never goes back to 0) the count is moot
  // and the decrement, a locked RMW, is skipped.
  if (n_->cancel_called.load(std::memory_order_acquire) == 0 &&
      n_->cancel_refs.fetch_sub(1, std::memory_order_acq_rel) == 1 &&
      n_->cancel_called.load(std::memory_order_acquire) == 0) {
    if (EventSink* s = detail::sink()) {
      Event e;
      e.type = EventType::cancel_dropped;
      e.id = n_->id;
      e.value = n_->state.load(std::memory_order_acquire) != 0 ? 1 : 0;
      e.site = n_->site;
      detail::emit_to(s, e);
    }
  }
  n_->unref();
}

void CancelFunc::operator()(std::source_location loc) const noexcept {
  if (n_) detail::explicit_cancel(n_, detail::k_no_error, loc);
}

void CancelCauseFunc::operator()(std::error_code cause, std::source_location loc) const noexcept {
  if (n_) detail::explicit_cancel(n_, cause, loc);
}

bool StopFunc::operator()() const noexcept {
  if (!s_) return false;
  int expected = 0;
  return s_->status.compare_exchange_strong(expected, 2);
}

// Constructors -------------------------------------------------------------

std::pair<Context, CancelFunc> with_cancel(const Context& parent, Site loc) {
  detail::Node* p = parent.node();
  p->ref();
  auto* n = new detail::CancelNode(Kind::cancel, p, loc);
  n->refs.store(2, std::memory_order_relaxed);  // the Context and the CancelFunc; not yet shared
  detail::attach(n, 0);
  // Built in place: no moved-from temporary CancelFunc to destroy.
  return {std::piecewise_construct, std::forward_as_tuple(n), std::forward_as_tuple(n)};
}

std::pair<Context, CancelCauseFunc> with_cancel_cause(const Context& parent, Site loc) {
  detail::Node* p = parent.node();
  p->ref();
  auto* n = new detail::CancelNode(Kind::cause, p, loc);
  n->refs.store(2, std::memory_order_relaxed);
  detail::attach(n, 0);
  return {Context(n), CancelCauseFunc(n)};
}

std::pair<Context, CancelFunc> with_deadline(const Context& parent, Clock::time_point d, Site loc) {
  return detail::make_timer(parent, Kind::deadline, d, {}, loc);
}
std::pair<Context, CancelFunc> with_timeout(const Context& parent, Clock::duration d, Site loc) {
  return detail::make_timer(parent, Kind::timeout, Clock::now() + d, {}, loc);
}
std::pair<Context, CancelFunc> with_deadline_cause(const Context& parent, Clock::time_point d,
                                                   std::error_code cause, Site loc) {
  return detail::make_timer(parent, Kind::deadline, d, cause, loc);
}
std::pair<Context, CancelFunc> with_timeout_cause(const Context& parent, Clock::duration d,
                                                  std::error_code cause, Site loc) {
  return detail::make_timer(parent, Kind::timeout, Clock::now() + d, cause, loc);
}

Context without_cancel(const Context& parent, Site loc) {
  detail::Node* p = parent.node();
  p->ref();
  auto* n = new detail::DetachedNode(p, loc);
  detail::announce(n);
  return Context(n);
}

StopFunc after_func(const Context& ctx, std::function<void()> f, std::source_location loc) {
  auto st = std::make_shared<StopFunc::State>();
  st->f = std::move(f);
  st->ctx = ctx.id();
  st->site = loc;
  detail::CancelNode* s = ctx.node()->done_src;
  if (s == nullptr) return StopFunc(st);  // never done: never runs
  auto* l = new detail::AfterListener;
  l->tag = detail::Listener::after;
  l->st = st;
  s->lock.lock();
  if (s->state.load(std::memory_order_relaxed) == 0) {
    detail::link(s, l);
    s->lock.unlock();
  } else {
    s->lock.unlock();
    detail::Deferred d;
    d.owned.push_back(l);
    d.run();
  }
  return StopFunc(st);
}

// Done ---------------------------------------------------------------------

Done::Done(detail::Node* n, std::source_location loc) noexcept : node_(n), src_(n->done_src) {
  node_->ref();
  site = loc;
  entry_.tag = detail::Listener::waiter;
}

Done::Done(const Done& o) noexcept : detail::SelectCase(o), node_(o.node_), src_(o.src_) {
  node_->ref();
  entry_.tag = detail::Listener::waiter;
}

Done::~Done() { node_->unref(); }

bool Done::try_now() { return ready(); }

void Done::enqueue(detail::Waiter* w, int idx) {
  if (src_ == nullptr) return;
  entry_.w = w;
  entry_.idx = idx;
  detail::LockGuard g(src_->lock);
  if (src_->state.load(std::memory_order_relaxed) != 0) {
    if (w->try_fire(idx)) w->wake();
    return;
  }
  detail::link(src_, &entry_);
}

void Done::dequeue() noexcept {
  if (src_ == nullptr) return;
  detail::LockGuard g(src_->lock);
  if (entry_.linked) detail::unlink(src_, &entry_);
}

void Done::finish() {
  if (src_ != nullptr && detail::sink() != nullptr) detail::note_observed(src_, site);
}

std::uint64_t Done::done_ctx() const noexcept { return node_->id; }

std::error_code Done::wait() const {
  Done self(*this);
  detail::SelectCase* cs[] = {&self};
  detail::select_impl(cs, 1);
  return make_error_code(static_cast<errc>(src_->state.load(std::memory_order_acquire)));
}

}  // namespace ctxscope
