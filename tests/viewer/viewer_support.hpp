// Helpers of the viewer tests: record a scenario's buggy trace, open a file in
// a MainWindow and wait for the outcome (a signal, never a sleep).
#pragma once

#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QEventLoop>
#include <QTimer>
#include <filesystem>
#include <string>

#include "main_window.hpp"
#include "samples.hpp"
#include "test_util.hpp"

namespace ctxscope::testing {

/// Records `s` --mode=buggy into `dir`/buggy.db and returns the path.
inline std::filesystem::path record_buggy(const Sample& s, const std::filesystem::path& dir) {
  run_sample_traced(s, "buggy", dir);
  return dir / "buggy.db";
}

/// Opens `path` in `w` and runs the event loop until it is loaded or failed
/// (bounded: a loader that never answers fails the test after 120 s).
/// Returns true when loaded; `error` gets the failure message.
inline bool open_and_wait(viewer::MainWindow& w, const std::filesystem::path& path, QString* error = nullptr) {
  QEventLoop loop;
  bool ok = false, done = false;
  auto c1 = QObject::connect(&w, &viewer::MainWindow::documentLoaded, &loop, [&] { ok = done = true; loop.quit(); });
  auto c2 = QObject::connect(&w, &viewer::MainWindow::loadFailed, &loop, [&](const QString& m) {
    if (error) *error = m;
    done = true;
    loop.quit();
  });
  QTimer guard;
  guard.setSingleShot(true);
  QObject::connect(&guard, &QTimer::timeout, &loop, &QEventLoop::quit);
  guard.start(120000);
  w.open(QString::fromStdString(path.string()));
  if (!done) loop.exec();
  QObject::disconnect(c1);
  QObject::disconnect(c2);
  EXPECT_TRUE(done) << "the loader did not answer within 120 s";
  return ok;
}

/// A window the size of --screenshot's, shown (offscreen) and laid out.
struct ShownWindow {
  viewer::MainWindow w;
  ShownWindow() {
    w.set_dialogs(false);
    w.resize(1600, 1000);
    w.show();
    QCoreApplication::processEvents();
  }
};

}  // namespace ctxscope::testing
