// ctxscope/viewer/palette.hpp — the one set of colours of the viewer.
//
// The legend, the tree, the lanes and the tests all take colours from here, so
// "drawn in its colour" has one meaning.  Chosen for a white background and to
// stay apart for the common colour-vision deficiencies: the leak is the only
// saturated red fill in the tree; a wait still blocked at the end is the only
// red bar; the arrow of a cancel and the bar it ended share the blue.
#pragma once

#include <QColor>

#include "ctxscope/viewer/trace_document.hpp"

namespace ctxscope::viewer::palette {

QColor node_fill(NodeState) noexcept;
QColor node_border(NodeState) noexcept;
QColor node_text(NodeState) noexcept;
QColor wait_fill(WaitStyle) noexcept;

inline QColor arrow() noexcept { return QColor(0x15, 0x65, 0xc0); }          ///< cancel → woken wait
inline QColor cancel_marker() noexcept { return QColor(0x0d, 0x47, 0xa1); }  ///< explicit cancel on a lane
inline QColor deadline_marker() noexcept { return QColor(0xe6, 0x51, 0x00); }///< deadline fired on a lane
inline QColor missed() noexcept { return QColor(0xc6, 0x28, 0x28); }         ///< the gap where an arrow should be
inline QColor wave() noexcept { return QColor(0x42, 0x7c, 0xd6); }           ///< tree edge a cancel travelled down
inline QColor diff_only() noexcept { return QColor(0x8e, 0x24, 0xaa); }      ///< comparing runs: only this run has it
inline QColor selection() noexcept { return QColor(0xff, 0xc1, 0x07); }
inline QColor lane_span() noexcept { return QColor(0xb0, 0xb7, 0xbf); }

}  // namespace ctxscope::viewer::palette
