// Names of the persistent enumeration codes (trace_codes.hpp): what the
// recorder writes into each file's `enums` table.
#include "ctxscope/trace_codes.hpp"

namespace ctxscope {

std::string_view to_string(Kind k) noexcept {
  switch (k) {
    case Kind::background: return "background";
    case Kind::todo: return "todo";
    case Kind::cancel: return "cancel";
    case Kind::timeout: return "timeout";
    case Kind::deadline: return "deadline";
    case Kind::cause: return "cause";
    case Kind::without_cancel: return "without_cancel";
    case Kind::value: return "value";
  }
  return "unknown";
}
std::string_view to_string(CancelReason r) noexcept {
  switch (r) {
    case CancelReason::explicit_call: return "explicit";
    case CancelReason::parent: return "parent";
    case CancelReason::deadline: return "deadline";
    case CancelReason::born_done: return "born_done";
  }
  return "unknown";
}
std::string_view to_string(WaitObject o) noexcept {
  switch (o) {
    case WaitObject::chan_recv: return "chan_recv";
    case WaitObject::chan_send: return "chan_send";
    case WaitObject::select: return "select";
    case WaitObject::waitgroup: return "waitgroup";
    case WaitObject::group: return "group";
    case WaitObject::sleep: return "sleep";
    case WaitObject::done: return "done";
  }
  return "unknown";
}
std::string_view to_string(WaitOutcome o) noexcept {
  switch (o) {
    case WaitOutcome::value: return "value";
    case WaitOutcome::closed: return "closed";
    case WaitOutcome::done: return "done";
    case WaitOutcome::default_: return "default";
    case WaitOutcome::timeout: return "timeout";
  }
  return "unknown";
}
std::string_view to_string(ReleaseReason r) noexcept {
  switch (r) {
    case ReleaseReason::own_cancel: return "own_cancel";
    case ReleaseReason::parent: return "parent";
    case ReleaseReason::destroyed: return "destroyed";
  }
  return "unknown";
}
std::string_view to_string(EventType t) noexcept {
  switch (t) {
    case EventType::ctx_create: return "ctx_create";
    case EventType::ctx_cancel: return "ctx_cancel";
    case EventType::cancel_dropped: return "cancel_dropped";
    case EventType::ctx_release: return "ctx_release";
    case EventType::done_observed: return "done_observed";
    case EventType::wait_begin: return "wait_begin";
    case EventType::wait_end: return "wait_end";
    case EventType::thread_spawn: return "thread_spawn";
    case EventType::thread_exit: return "thread_exit";
    case EventType::chan_create: return "chan_create";
    case EventType::chan_close: return "chan_close";
    case EventType::test_begin: return "test_begin";
    case EventType::test_end: return "test_end";
  }
  return "unknown";
}
std::string_view to_string(TestKind k) noexcept {
  switch (k) {
    case TestKind::test: return "test";
    case TestKind::suite: return "suite";
  }
  return "unknown";
}
std::string_view to_string(TestResult r) noexcept {
  switch (r) {
    case TestResult::passed: return "passed";
    case TestResult::failed: return "failed";
    case TestResult::skipped: return "skipped";
  }
  return "unknown";
}

}  // namespace ctxscope
