// The viewer tests need one QApplication for the whole binary (widgets,
// offscreen) and no user settings: QStandardPaths' test mode keeps QSettings
// (recent files) out of the user's home.
#include <gtest/gtest.h>

#include <QApplication>
#include <QStandardPaths>
#include <cstdlib>

int main(int argc, char** argv) {
  if (!std::getenv("QT_QPA_PLATFORM")) setenv("QT_QPA_PLATFORM", "offscreen", 1);
  // A site click must never start an editor from a test.
  unsetenv("VISUAL");
  unsetenv("EDITOR");
  QStandardPaths::setTestModeEnabled(true);
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("ctxscope-tests"));
  QApplication::setApplicationName(QStringLiteral("ctxscope-viewer-tests"));
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
