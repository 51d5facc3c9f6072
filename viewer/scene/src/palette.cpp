#include "ctxscope/viewer/palette.hpp"

namespace ctxscope::viewer::palette {

QColor node_fill(NodeState s) noexcept {
  switch (s) {
    case NodeState::live: return QColor(0xc8, 0xe6, 0xc9);
    case NodeState::cancelled_explicit: return QColor(0x90, 0xc2, 0xf9);
    case NodeState::cancelled_by_parent: return QColor(0xdc, 0xea, 0xfb);
    case NodeState::deadline_exceeded: return QColor(0xff, 0xcc, 0x80);
    case NodeState::born_done: return QColor(0xd7, 0xdd, 0xe3);
    case NodeState::released: return QColor(0xf0, 0xf0, 0xf0);
    case NodeState::leaked: return QColor(0xe5, 0x39, 0x35);
  }
  return Qt::white;
}

QColor node_border(NodeState s) noexcept {
  switch (s) {
    case NodeState::live: return QColor(0x2e, 0x7d, 0x32);
    case NodeState::cancelled_explicit: return QColor(0x15, 0x65, 0xc0);
    case NodeState::cancelled_by_parent: return QColor(0x42, 0x7c, 0xd6);
    case NodeState::deadline_exceeded: return QColor(0xe6, 0x51, 0x00);
    case NodeState::born_done: return QColor(0x78, 0x90, 0x9c);
    case NodeState::released: return QColor(0x9e, 0x9e, 0x9e);
    case NodeState::leaked: return QColor(0x8e, 0x00, 0x00);
  }
  return Qt::black;
}

QColor node_text(NodeState s) noexcept { return s == NodeState::leaked ? Qt::white : QColor(0x21, 0x21, 0x21); }

QColor wait_fill(WaitStyle s) noexcept {
  switch (s) {
    case WaitStyle::observing: return QColor(0x66, 0xbb, 0x6a);
    case WaitStyle::blind: return QColor(0xff, 0xa0, 0x00);
    case WaitStyle::ended_by_done: return QColor(0x1e, 0x88, 0xe5);
    case WaitStyle::stuck: return QColor(0xd3, 0x2f, 0x2f);
  }
  return Qt::gray;
}

}  // namespace ctxscope::viewer::palette
