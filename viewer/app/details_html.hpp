// details_html.hpp — the details pane's text for one selected entity.
//
// Rich text with links the window follows: "ctx:N", "thread:N", "wait:N"
// select an entity (model indices), "site:N" opens a site (index into the
// model's sites) in the editor or shows its snippet.
#pragma once

#include <QString>

#include "ctxscope/viewer/trace_document.hpp"

namespace ctxscope::viewer {

QString context_details(const TraceDocument& doc, std::uint32_t context);
QString thread_details(const TraceDocument& doc, std::uint32_t thread);
QString wait_details(const TraceDocument& doc, std::uint32_t wait);
QString finding_details(const TraceDocument& doc, std::uint32_t finding);
/// Playback: what the selected entity was at time t (a line above its
/// details, which describe the whole run): "not yet created", "live",
/// "blocked for 3 ms", ... from the document's state-at-t queries.  Empty
/// when t is at or past the run's end.  `kind`: "ctx", "thread", "wait"
/// (model indices) or "finding" (its context, else its wait).
QString details_at(const TraceDocument& doc, const char* kind, std::uint32_t index, std::int64_t t);
/// Lines around `line` of `file` (the line marked), or "" when the file cannot be read.
QString source_snippet(const QString& file, int line, int context_lines = 6);

}  // namespace ctxscope::viewer
