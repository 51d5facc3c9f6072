#include "details_html.hpp"

#include <QFile>
#include <QTextStream>
#include <algorithm>

#include "ctxscope/viewer/palette.hpp"

namespace ctxscope::viewer {

using analysis::kNoIndex;
using analysis::kNoTime;

namespace {

QString esc(const std::string& s) { return QString::fromStdString(s).toHtmlEscaped(); }
QString dur(std::int64_t ns) {
  return ns == kNoTime ? QStringLiteral("—") : QString::fromStdString(analysis::format_duration(ns));
}
QString row(const QString& k, const QString& v) {
  return QStringLiteral("<tr><td style='color:#555;padding-right:8px'>%1</td><td>%2</td></tr>").arg(k, v);
}
QString site_link(const TraceDocument& doc, std::uint32_t site) {
  const auto& s = doc.model().site(site);
  if (!s.known()) return QStringLiteral("<i>unknown</i>");
  QString text = esc(doc.short_site(site));
  if (!s.function.empty()) text += QStringLiteral(" <span style='color:#555'>in %1</span>").arg(esc(s.function));
  return QStringLiteral("<a href='site:%1'>%2</a>").arg(site).arg(text);
}
QString ctx_link(const TraceDocument& doc, std::uint32_t c) {
  if (c == kNoIndex) return QStringLiteral("—");
  return QStringLiteral("<a href='ctx:%1'>%2</a>").arg(c).arg(esc(doc.context_title(c)));
}
QString thread_link(const TraceDocument& doc, std::uint32_t t) {
  if (t == kNoIndex) return QStringLiteral("—");
  return QStringLiteral("<a href='thread:%1'>%2</a>").arg(t).arg(esc(doc.thread_title(t)));
}
QString wait_link(const TraceDocument& doc, std::uint32_t w) {
  return QStringLiteral("<a href='wait:%1'>%2</a>").arg(w).arg(esc(doc.wait_title(w)));
}
QString swatch(const QColor& c) {
  return QStringLiteral("<span style='background:%1'>&nbsp;&nbsp;&nbsp;&nbsp;</span> ").arg(c.name());
}
QString stack_html(const TraceDocument& doc, std::uint32_t stack, const QString& title) {
  if (stack == kNoIndex || stack >= doc.model().stacks().size()) return {};
  const auto& frames = doc.model().stacks()[stack];
  if (frames.empty()) return {};
  QString h = QStringLiteral("<p><b>%1</b><br/><span style='font-family:monospace;font-size:10px'>").arg(title);
  for (std::size_t d = 0; d < frames.size(); ++d) {
    const auto& f = frames[d];
    // Parameter lists elided (the function's full name is the link's tooltip).
    h += QStringLiteral("#%1 <span title='%2'>%3</span>")
             .arg(d)
             .arg(esc(f.function))
             .arg(esc(f.function.empty() ? "??" : analysis::short_function(f.function)));
    if (!f.file.empty()) {
      const std::string name = f.file.substr(f.file.rfind('/') == std::string::npos ? 0 : f.file.rfind('/') + 1);
      h += QStringLiteral(" <a href='frame:%1/%2' title='%3'>%4:%5</a>")
               .arg(stack)
               .arg(d)
               .arg(esc(f.file))
               .arg(esc(name))
               .arg(f.line);
    }
    h += QStringLiteral("<br/>");
  }
  return h + QStringLiteral("</span></p>");
}
const char* reason_name(std::uint8_t r) {
  switch (r) {
    case 0: return "its cancel was called";
    case 1: return "its parent was cancelled";
    case 2: return "its deadline fired";
    case 3: return "born done (parent already done)";
  }
  return "";
}

}  // namespace

QString context_details(const TraceDocument& doc, std::uint32_t c) {
  const auto& m = doc.model();
  const auto& x = m.contexts()[c];
  const auto st = doc.node_state(c);
  QString h = QStringLiteral("<h3 style='margin:0'>%1%2</h3>").arg(swatch(palette::node_fill(st)), esc(doc.context_title(c)));
  h += QStringLiteral("<table>");
  h += row("kind", esc(m.name_of("kind", x.kind)));
  h += row("state", QStringLiteral("<b>%1</b>").arg(QString::fromUtf8(to_string(st))));
  h += row("site", site_link(doc, x.site));
  h += row("created", dur(x.created_ns) + (x.thread ? QStringLiteral(" on ") + thread_link(doc, m.find_thread(x.thread)) : QString()));
  if (x.deadline_ns != kNoTime) h += row("deadline", dur(x.deadline_ns));
  if (x.cancel_ns != kNoTime) {
    h += row("done", dur(x.cancel_ns) + QStringLiteral(": ") + QString::fromUtf8(reason_name(x.cancel_reason)));
    if (x.cancel_origin != kNoIndex && x.cancel_origin != c) h += row("cancel origin", ctx_link(doc, x.cancel_origin));
    if (x.cancel_site != kNoIndex) h += row("cancelled at", site_link(doc, x.cancel_site));
  }
  if (x.cancel_called_ns != kNoTime) h += row("cancel called", dur(x.cancel_called_ns));
  if (x.dropped_ns != kNoTime)
    h += row("cancel dropped", dur(x.dropped_ns) + (x.dropped_when_done ? " (already done)" : " <b>uncalled, not done</b>"));
  if (x.released_ns != kNoTime) h += row("released", dur(x.released_ns));
  h += QStringLiteral("</table>");
  // Ancestry.
  h += QStringLiteral("<p><b>ancestry</b><br/>");
  const auto anc = m.ancestry(c);
  for (std::size_t i = 0; i < anc.size(); ++i) {
    h += QString(static_cast<int>(i) * 2, QChar(0xa0)) + (i ? QStringLiteral("└ ") : QString()) + ctx_link(doc, anc[i]);
    const auto s = doc.short_site(m.contexts()[anc[i]].site);
    if (!s.empty()) h += QStringLiteral(" <span style='color:#666'>%1</span>").arg(esc(s));
    h += QStringLiteral("<br/>");
  }
  h += QStringLiteral("</p>");
  // Findings.
  const auto& fs = doc.findings_of_context(c);
  if (!fs.empty()) {
    h += QStringLiteral("<p><b>findings</b><br/>");
    for (auto f : fs) {
      const auto& fi = doc.report().findings[f];
      h += QStringLiteral("<span style='color:#c62828'>%1</span> %2<br/>").arg(esc(fi.rule), esc(fi.message));
    }
    h += QStringLiteral("</p>");
  }
  // Events: what happened to it, and who waited on it.
  h += QStringLiteral("<p><b>events</b><br/>");
  struct Ev { std::int64_t t; QString what; };
  std::vector<Ev> ev;
  if (x.created_ns != kNoTime) ev.push_back({x.created_ns, "created"});
  if (x.cancel_ns != kNoTime) ev.push_back({x.cancel_ns, esc("done (" + m.name_of("cancel_reason", x.cancel_reason) + ")")});
  if (x.cancel_called_ns != kNoTime) ev.push_back({x.cancel_called_ns, "cancel called"});
  if (x.dropped_ns != kNoTime) ev.push_back({x.dropped_ns, "last cancel func dropped"});
  if (x.released_ns != kNoTime) ev.push_back({x.released_ns, esc("released (" + m.name_of("release_reason", x.release_reason) + ")")});
  if (x.done_observed_ns != kNoTime) ev.push_back({x.done_observed_ns, "done first observed"});
  int waits = 0;
  for (std::uint32_t w = 0; w < m.waits().size() && waits < 12; ++w)
    if (m.waits()[w].done_ctx == c) {
      ev.push_back({m.waits()[w].begin_ns, "wait began: " + wait_link(doc, w)});
      ++waits;
    }
  std::stable_sort(ev.begin(), ev.end(), [](const Ev& a, const Ev& b) { return a.t < b.t; });
  for (const auto& e : ev) h += QStringLiteral("<span style='color:#555'>%1</span> %2<br/>").arg(dur(e.t), e.what);
  h += QStringLiteral("</p>");
  h += stack_html(doc, x.stack, "creation stack");
  h += stack_html(doc, x.cancel_stack, "cancel stack");
  return h;
}

QString thread_details(const TraceDocument& doc, std::uint32_t t) {
  const auto& m = doc.model();
  const auto& x = m.threads()[t];
  QString h = QStringLiteral("<h3 style='margin:0'>%1</h3><table>").arg(esc(doc.thread_title(t)));
  h += row("context", ctx_link(doc, x.ctx));
  if (x.effective_ctx != kNoIndex && x.effective_ctx != x.ctx) h += row("ends with", ctx_link(doc, x.effective_ctx));
  h += row("spawned", dur(x.spawn_ns) + (x.spawn_site != kNoIndex ? QStringLiteral(" at ") + site_link(doc, x.spawn_site) : QString()));
  if (x.parent_thread) h += row("by", thread_link(doc, m.find_thread(x.parent_thread)));
  h += row("exit", x.exit_ns == kNoTime ? QStringLiteral("<b>still running at the end</b>") : dur(x.exit_ns));
  if (x.runtime) h += row("", "one of ctxscope's own threads");
  h += row("waits", QString::number(x.waits.size()));
  h += QStringLiteral("</table><p><b>waits</b><br/>");
  std::size_t n = 0;
  for (auto w : x.waits) {
    if (++n > 40) {
      h += QStringLiteral("… %1 more<br/>").arg(x.waits.size() - 40);
      break;
    }
    h += swatch(palette::wait_fill(doc.wait_style(w))) + dur(m.waits()[w].begin_ns) + " " + wait_link(doc, w) + "<br/>";
  }
  return h + QStringLiteral("</p>");
}

QString wait_details(const TraceDocument& doc, std::uint32_t w) {
  const auto& m = doc.model();
  const auto& x = m.waits()[w];
  const auto style = doc.wait_style(w);
  QString h = QStringLiteral("<h3 style='margin:0'>%1%2</h3><table>").arg(swatch(palette::wait_fill(style)), esc(doc.wait_title(w)));
  h += row("style", QStringLiteral("<b>%1</b>").arg(QString::fromUtf8(to_string(style))) +
                        (doc.wait_missed(w) ? QStringLiteral(" — <b style='color:#c62828'>missed a cancel</b>") : QString()));
  h += row("thread", thread_link(doc, m.find_thread(x.thread)));
  h += row("site", site_link(doc, x.site));
  h += row("observes", x.done_ctx == kNoIndex ? QStringLiteral("<b>no context (blind)</b>") : ctx_link(doc, x.done_ctx));
  h += row("cases", QString::number(x.n_cases));
  h += row("began", dur(x.begin_ns));
  h += row("ended", x.end_ns == kNoTime ? QStringLiteral("<b>still blocked at the end</b>")
                                        : dur(x.end_ns) + " (" + esc(m.name_of("wait_outcome", x.outcome)) + ")");
  h += QStringLiteral("</table>");
  const auto edges = m.edges_of_wait(w);
  if (!edges.empty()) {
    h += QStringLiteral("<p><b>cancels</b><br/>");
    for (auto e : edges) {
      const auto& ed = m.edges()[e];
      if (ed.kind == analysis::WakeEdge::Kind::woke)
        h += QStringLiteral("woken at %1 by the cancel of %2 (began at %3)<br/>")
                 .arg(dur(ed.wake_ns), ctx_link(doc, ed.context), ctx_link(doc, ed.origin));
      else
        h += QStringLiteral("<span style='color:#c62828'>missed</span>: %1 was done at %2 and this wait did not notice<br/>")
                 .arg(ctx_link(doc, ed.context), dur(ed.cancel_ns));
    }
    h += QStringLiteral("</p>");
  }
  for (auto f : doc.findings_of_wait(w))
    h += QStringLiteral("<p><span style='color:#c62828'>%1</span> %2</p>")
             .arg(esc(doc.report().findings[f].rule), esc(doc.report().findings[f].message));
  return h;
}

QString finding_details(const TraceDocument& doc, std::uint32_t f) {
  const auto& fi = doc.report().findings[f];
  QString h = QStringLiteral("<h3 style='margin:0;color:#c62828'>%1 <span style='color:#555;font-weight:normal'>(%2)</span></h3>")
                  .arg(esc(fi.rule), esc(std::string(analysis::to_string(fi.severity))));
  h += QStringLiteral("<p>%1</p><table>").arg(esc(fi.message));
  if (fi.site.known()) {
    // The finding's site is one of the model's sites: find it to link it.
    const auto& sites = doc.model().sites();
    std::uint32_t idx = kNoIndex;
    for (std::uint32_t i = 0; i < sites.size(); ++i)
      if (sites[i].file == fi.site.file && sites[i].line == fi.site.line) { idx = i; break; }
    h += row("site", idx != kNoIndex ? site_link(doc, idx) : esc(fi.site.str()));
  }
  if (!fi.thread_name.empty() || fi.thread) h += row("thread", thread_link(doc, doc.finding_thread(f)));
  if (doc.finding_wait(f) != kNoIndex) h += row("wait", wait_link(doc, doc.finding_wait(f)));
  for (const auto& mo : fi.times) h += row(esc(mo.what), dur(mo.ns));
  h += QStringLiteral("</table>");
  if (!fi.stack.empty()) {
    h += QStringLiteral("<p><b>%1</b><br/><span style='font-family:monospace;font-size:10px'>")
             .arg(esc(analysis::stack_title(fi)));
    for (std::size_t i = 0; i < fi.stack.size(); ++i)
      h += QStringLiteral("#%1 ").arg(i) + esc(analysis::frame_for_reader(fi, i)) + "<br/>";
    h += QStringLiteral("</span></p>");
  }
  if (doc.finding_context(f) != kNoIndex) h += QStringLiteral("<hr/>") + context_details(doc, doc.finding_context(f));
  return h;
}

QString source_snippet(const QString& file, int line, int context_lines) {
  QFile f(file);
  if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) return {};
  QTextStream in(&f);
  QString h = QStringLiteral("<p><b>%1:%2</b></p><pre style='font-size:11px'>").arg(file.toHtmlEscaped()).arg(line);
  int n = 0;
  while (!in.atEnd()) {
    const QString text = in.readLine();
    ++n;
    if (n < line - context_lines) continue;
    if (n > line + context_lines) break;
    const QString num = QString::number(n).rightJustified(5);
    if (n == line) h += QStringLiteral("<span style='background:#fff3c4'><b>%1  %2</b></span>\n").arg(num, text.toHtmlEscaped());
    else h += QStringLiteral("%1  %2\n").arg(num, text.toHtmlEscaped());
  }
  return h + QStringLiteral("</pre>");
}

}  // namespace ctxscope::viewer
