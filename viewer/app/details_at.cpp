// The details pane during playback: the selected entity's state at time t.
#include <QObject>
#include <cstring>

#include "details_html.hpp"

namespace ctxscope::viewer {

using analysis::kNoIndex;
using analysis::kNoTime;

namespace {

QString dur(std::int64_t ns) { return QString::fromStdString(analysis::format_duration(ns)); }

QString context_at(const TraceDocument& doc, std::uint32_t c, std::int64_t t) {
  const auto& x = doc.model().contexts()[c];
  if (!doc.context_exists_at(c, t)) return QObject::tr("not created yet (it is created at %1)").arg(dur(x.created_ns));
  const auto st = doc.node_state_at(c, t);
  QString s = QStringLiteral("<b>%1</b>").arg(QString::fromUtf8(to_string(st)));
  switch (st) {
    case NodeState::live:
      s += x.cancel_ns != kNoTime ? QObject::tr(", done at %1 (in %2)").arg(dur(x.cancel_ns), dur(x.cancel_ns - t))
                                  : QObject::tr(", and never done in this run");
      break;
    case NodeState::leaked:
      s += x.dropped_ns != kNoTime && x.dropped_ns <= t
               ? QObject::tr(": its cancel function was dropped uncalled at %1").arg(dur(x.dropped_ns))
               : QString();
      break;
    default:
      if (x.cancel_ns != kNoTime && x.cancel_ns <= t) s += QObject::tr(" at %1").arg(dur(x.cancel_ns));
      else if (x.released_ns != kNoTime && x.released_ns <= t) s += QObject::tr(" at %1").arg(dur(x.released_ns));
  }
  return s;
}

QString wait_at(const TraceDocument& doc, std::uint32_t w, std::int64_t t) {
  const auto& x = doc.model().waits()[w];
  if (!doc.wait_exists_at(w, t)) return QObject::tr("not begun yet (it begins at %1)").arg(dur(x.begin_ns));
  if (doc.wait_blocked_at(w, t)) {
    QString s = QObject::tr("<b>blocked</b> for %1 so far").arg(dur(t - x.begin_ns));
    s += x.end_ns != kNoTime ? QObject::tr(" (it ends at %1)").arg(dur(x.end_ns))
                             : QObject::tr(" (still blocked at the end of the run)");
    return s;
  }
  return QObject::tr("ended at %1, after %2").arg(dur(x.end_ns), dur(x.end_ns - x.begin_ns));
}

QString thread_at(const TraceDocument& doc, std::uint32_t i, std::int64_t t) {
  const auto& x = doc.model().threads()[i];
  const auto start = x.spawn_ns != kNoTime ? x.spawn_ns : x.first_ns;
  if (start != kNoTime && start > t) return QObject::tr("not started yet (it starts at %1)").arg(dur(start));
  if (x.exit_ns != kNoTime && x.exit_ns <= t) return QObject::tr("exited at %1").arg(dur(x.exit_ns));
  return QObject::tr("<b>running</b>");
}

}  // namespace

QString details_at(const TraceDocument& doc, const char* kind, std::uint32_t i, std::int64_t t) {
  if (t >= doc.end_ns() || i == kNoIndex) return {};
  const auto& m = doc.model();
  QString what;
  if (std::strcmp(kind, "finding") == 0) {
    if (i >= doc.report().findings.size()) return {};
    const auto c = doc.finding_context(i), w = doc.finding_wait(i);
    if (w != kNoIndex) what = QObject::tr("its wait: ") + wait_at(doc, w, t);
    if (c != kNoIndex) what = QObject::tr("its context: ") + context_at(doc, c, t) + (what.isEmpty() ? "" : "; " + what);
    if (what.isEmpty()) return {};
  } else if (std::strcmp(kind, "ctx") == 0 && i < m.contexts().size()) {
    what = context_at(doc, i, t);
  } else if (std::strcmp(kind, "wait") == 0 && i < m.waits().size()) {
    what = wait_at(doc, i, t);
  } else if (std::strcmp(kind, "thread") == 0 && i < m.threads().size()) {
    what = thread_at(doc, i, t);
  } else {
    return {};
  }
  return QObject::tr("<table width='100%' style='background:#eef2f7' cellpadding='4'><tr><td>"
                     "<b>▶ At %1</b> (playback): %2.<br/><span style='color:#555'>Below: the whole run.</span>"
                     "</td></tr></table>")
      .arg(dur(t), what);
}

}  // namespace ctxscope::viewer
