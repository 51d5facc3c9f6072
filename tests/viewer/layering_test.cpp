// The viewer's layering, checked on its sources: the models are Qt Core only
// (no widgets, no painting), and no file of the viewer talks to SQLite or
// writes SQL — everything comes from the trace model and the rule engine.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> sources(const fs::path& dir) {
  std::vector<fs::path> v;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && (e.path().extension() == ".cpp" || e.path().extension() == ".hpp")) v.push_back(e.path());
  return v;
}
std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(ViewerLayering, ModelsIncludeNoGuiOrWidgetHeaders) {
  const fs::path models = fs::path(CTXSCOPE_SOURCE_DIR) / "viewer" / "models";
  const std::regex gui(R"(#include\s*<(Q(Widget|Color|Brush|Pen|Painter|Font|Image|Pixmap|Graphics\w*|Application|Gui\w*)|QtGui/|QtWidgets/)\w*)");
  auto files = sources(models);
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) EXPECT_FALSE(std::regex_search(slurp(f), gui)) << f << " includes a Qt Gui/Widgets header";
}

TEST(ViewerLayering, NoViewerFileQueriesTheTraceItself) {
  const fs::path viewer = fs::path(CTXSCOPE_SOURCE_DIR) / "viewer";
  const std::regex sql(R"(sqlite3_\w+\s*\(|\bSELECT\s+[\w*]|#include\s*<sqlite3\.h>)");
  for (const auto& f : sources(viewer)) EXPECT_FALSE(std::regex_search(slurp(f), sql)) << f << " talks to SQLite";
}

}  // namespace
