// ctxscope-viewer [FILE]
// ctxscope-viewer --screenshot OUT.png [--at T] [FILE]
// ctxscope-viewer --diff A.db B.db [--screenshot OUT.png]
//
// --at T shows the state at time T of the run (ns, or 12ms, 1.5s, 50%); a T
// that is not a time or lies outside the run is one line on stderr, exit 2.
//
// With --screenshot the window is rendered at 1600x1000 (offscreen when there
// is no display), written as PNG, and the program exits: 0 when written, 2
// with one line on stderr naming the file and the problem when the trace
// cannot be read (never a dialog, never a crash), 1 when the PNG cannot be
// written.
#include <QApplication>
#include <QEventLoop>
#include <QImage>
#include <QTimer>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "ctxscope/version.hpp"
#include "main_window.hpp"

namespace {

void usage(FILE* to) {
  std::fputs(
      "usage: ctxscope-viewer [FILE]\n"
      "       ctxscope-viewer --follow FILE\n"
      "       ctxscope-viewer --screenshot OUT.png [--at T] [FILE]\n"
      "       ctxscope-viewer --diff A.db B.db [--screenshot OUT.png]\n"
      "Shows a ctxscope trace: the context tree, the threads' waits, the analyzer's findings.\n"
      "\n"
      "Options:\n"
      "  --follow              follow a trace its program is still writing (the tree\n"
      "                        grows, the lanes scroll, the findings update)\n"
      "  --screenshot OUT.png  render the window at 1600x1000 into OUT.png and exit\n"
      "                        (offscreen when there is no display)\n"
      "  --at T                with --screenshot: the state at time T of the run:\n"
      "                        nanoseconds, or 12ms, 1.5s, 250us, 50%\n"
      "  --diff A B            compare two runs (did the fix remove the leak, and add\n"
      "                        nothing?): findings fixed, new and in both, and what only\n"
      "                        one run has, marked in its tree and lanes\n"
      "  -h, --help            print this help and exit\n"
      "  --version             print the version and exit\n"
      "Qt's own options (-platform, -style, -display) are passed to Qt.\n",
      to);
}

std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string screenshot, file, at;
  std::string diff_a, diff_b;
  bool have_at = false, follow = false, diff = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    }
    if (a == "--version") {
      std::fputs("ctxscope-viewer " CTXSCOPE_VERSION "\n", stdout);
      return 0;
    }
    if (a == "--screenshot") {
      if (i + 1 >= argc) {
        std::fputs("ctxscope-viewer: --screenshot needs an output file\n", stderr);
        return 2;
      }
      screenshot = argv[++i];
    } else if (a == "--follow") {
      follow = true;
    } else if (a == "--diff") {
      if (i + 2 >= argc) {
        std::fputs("ctxscope-viewer: --diff needs two trace files: --diff A.db B.db\n", stderr);
        return 2;
      }
      diff = true;
      diff_a = argv[++i];
      diff_b = argv[++i];
    } else if (a == "--at") {
      if (i + 1 >= argc) {
        std::fputs("ctxscope-viewer: --at needs a time (ns, or 12ms, 1.5s, 50%)\n", stderr);
        return 2;
      }
      at = argv[++i];
      have_at = true;
    } else if (a.rfind("--at=", 0) == 0) {
      at = a.substr(5);
      have_at = true;
    } else if (a.rfind("--screenshot=", 0) == 0) {
      screenshot = a.substr(13);
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      // Qt's own options (-platform, -style ...) are for QApplication.
      if (a == "-platform" || a == "-style" || a == "-display") ++i;
      continue;
    } else if (file.empty()) {
      file = a;
    } else {
      std::fputs("ctxscope-viewer: more than one trace file given\n", stderr);
      usage(stderr);
      return 2;
    }
  }
  const bool shot = !screenshot.empty();
  if (follow && (file.empty() || !screenshot.empty())) {
    std::fputs(file.empty() ? "ctxscope-viewer: --follow needs a trace file\n"
                            : "ctxscope-viewer: --follow and --screenshot do not go together\n",
               stderr);
    return 2;
  }
  if (diff && (follow || have_at || !file.empty())) {
    std::fputs(follow ? "ctxscope-viewer: --diff and --follow do not go together\n"
               : have_at ? "ctxscope-viewer: --diff and --at do not go together\n"
                         : "ctxscope-viewer: --diff takes its two files, not a third\n",
               stderr);
    return 2;
  }
  if (have_at) {
    // A T that is no time at all fails before the file is read (its range is checked after).
    std::string e;
    if (!ctxscope::viewer::parse_time_spec(at, 0, std::numeric_limits<std::int64_t>::max(), &e) &&
        e.find("outside the run") == std::string::npos && e.find("more than 100%") == std::string::npos) {
      std::fprintf(stderr, "ctxscope-viewer: %s\n", one_line(e).c_str());
      return 2;
    }
  }
  if (have_at && file.empty()) {
    std::fputs("ctxscope-viewer: --at needs a trace file\n", stderr);
    return 2;
  }
  if (shot && std::getenv("QT_QPA_PLATFORM") == nullptr) {
    const char* d = std::getenv("DISPLAY");
    const char* w = std::getenv("WAYLAND_DISPLAY");
    if ((d == nullptr || !*d) && (w == nullptr || !*w)) setenv("QT_QPA_PLATFORM", "offscreen", 1);
  }

  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("ctxscope"));
  QApplication::setApplicationName(QStringLiteral("ctxscope-viewer"));

  ctxscope::viewer::MainWindow w;
  if (!shot) {
    w.resize(1600, 1000);
    w.show();
    if (follow) w.follow(QString::fromStdString(file));
    else if (diff) w.compare(QString::fromStdString(diff_a), QString::fromStdString(diff_b));
    else if (!file.empty()) w.open(QString::fromStdString(file));
    if (have_at) {
      QObject::connect(&w, &ctxscope::viewer::MainWindow::documentLoaded, &w, [&] {
        std::string e;
        const auto& d = *w.document();
        if (auto t = ctxscope::viewer::parse_time_spec(at, d.begin_ns(), d.end_ns(), &e)) w.playback()->seek(*t);
        else std::fprintf(stderr, "ctxscope-viewer: %s\n", one_line(e).c_str());
      });
    }
    return app.exec();
  }

  w.set_dialogs(false);
  w.resize(1600, 1000);
  w.show();
  QCoreApplication::processEvents();
  if (!file.empty() || diff) {
    QEventLoop loop;
    QString error;
    bool ok = false;
    if (diff) QObject::connect(&w, &ctxscope::viewer::MainWindow::diffLoaded, &loop, [&] { ok = true; loop.quit(); });
    else QObject::connect(&w, &ctxscope::viewer::MainWindow::documentLoaded, &loop, [&] { ok = true; loop.quit(); });
    QObject::connect(&w, &ctxscope::viewer::MainWindow::loadFailed, &loop, [&](const QString& m) {
      error = m;
      loop.quit();
    });
    if (diff) w.compare(QString::fromStdString(diff_a), QString::fromStdString(diff_b));
    else w.open(QString::fromStdString(file));
    loop.exec();
    if (!ok) {
      std::fprintf(stderr, "ctxscope-viewer: %s\n", one_line(error.toStdString()).c_str());
      return 2;
    }
    for (const auto& warn : w.document()->warnings())
      std::fprintf(stderr, "ctxscope-viewer: warning: %s\n", one_line(warn).c_str());
  }
  QCoreApplication::sendPostedEvents();
  QCoreApplication::processEvents();
  w.fit_all();
  // Comparing, compare() chose what to show and select; otherwise the first finding.
  if (!diff && w.document() && !w.document()->report().findings.empty()) w.select_finding(0);
  if (have_at && w.document()) {
    std::string e;
    const auto& d = *w.document();
    const auto t = ctxscope::viewer::parse_time_spec(at, d.begin_ns(), d.end_ns(), &e);
    if (!t) {
      std::fprintf(stderr, "ctxscope-viewer: %s\n", one_line(e).c_str());
      return 2;
    }
    w.playback()->seek(*t);
  }
  QCoreApplication::processEvents();
  const QImage img = w.grab().toImage();
  if (!img.save(QString::fromStdString(screenshot), "PNG")) {
    std::fprintf(stderr, "ctxscope-viewer: %s: cannot write the screenshot\n", screenshot.c_str());
    return 1;
  }
  return 0;
}
