// Hostile files (the CLI's corpus): --screenshot says one line naming the file
// and the problem and exits 2; the window reports them and does not crash.
#include "hostile_corpus.hpp"
#include "viewer_support.hpp"

namespace ctxscope::testing {
namespace {

TEST(ViewerHostile, ScreenshotOfAHostileFileIsOneLineAndExit2) {
  const auto dir = test_dir();
  for (const auto& [what, p] : hostile_corpus(dir)) {
    const auto out = dir / (what + ".png");
    const auto r = run_cmd(std::string("QT_QPA_PLATFORM=offscreen timeout -k 5 60 '") + CTXSCOPE_VIEWER +
                               "' --screenshot '" + out.string() + "' '" + p.string() + "'",
                           dir);
    EXPECT_EQ(r.code, 2) << what << ": " << r.err;
    // Qt's own notes (XDG_RUNTIME_DIR...) may precede it: the last line is ours, and there is exactly one of ours.
    std::size_t ours = 0, pos = 0;
    while ((pos = r.err.find("ctxscope-viewer: ", pos)) != std::string::npos) ++ours, ++pos;
    EXPECT_EQ(ours, 1u) << what << ": " << r.err;
    EXPECT_NE(r.err.find("ctxscope-viewer: " + p.string() + ": "), std::string::npos) << what << ": " << r.err;
    EXPECT_FALSE(std::filesystem::exists(out)) << what;
  }
}

TEST(ViewerHostile, TheWindowReportsAHostileFileAndKeepsWorking) {
  const auto dir = test_dir();
  ShownWindow sw;
  for (const auto& [what, p] : hostile_corpus(dir)) {
    QString err;
    EXPECT_FALSE(open_and_wait(sw.w, p, &err)) << what;
    EXPECT_TRUE(err.startsWith(QString::fromStdString(p.string()) + ": ")) << what << ": " << err.toStdString();
    EXPECT_FALSE(err.contains('\n')) << what;
  }
  // Still usable: a good file opens after them.
  const auto good = dir / "good.db";
  { TraceBuilder b(good, 10); }
  EXPECT_TRUE(open_and_wait(sw.w, good));
}

}  // namespace
}  // namespace ctxscope::testing
