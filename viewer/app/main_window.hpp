// main_window.hpp — the viewer's window: tree above lanes, findings and details on the right.
//
// Owns the loader (worker thread), the three models, the two scenes and their
// views, and the one selection they share: choosing a context, a thread, a
// wait or a finding anywhere selects the related entities everywhere and shows
// them in the details pane.  Bad files are a dialog (or, with
// set_dialogs(false), only the loadFailed signal: --screenshot and tests).
#pragma once

#include <QMainWindow>
#include <memory>

#include "ctxscope/viewer/context_tree_model.hpp"
#include "ctxscope/viewer/context_tree_scene.hpp"
#include "ctxscope/viewer/context_tree_view.hpp"
#include "ctxscope/viewer/findings_model.hpp"
#include "ctxscope/viewer/playback.hpp"
#include "ctxscope/viewer/thread_lanes_model.hpp"
#include "ctxscope/viewer/thread_lanes_scene.hpp"
#include "ctxscope/viewer/thread_lanes_view.hpp"
#include "ctxscope/viewer/trace_filter.hpp"
#include "ctxscope/viewer/trace_follower.hpp"
#include "ctxscope/viewer/trace_loader.hpp"

class QLineEdit;
class QProgressBar;
class QPushButton;
class QTableView;
class QTreeView;
class QTextBrowser;
class QLabel;
class QMenu;
class QTabWidget;
class QSlider;
class QComboBox;
class QToolButton;
class QTreeWidget;
class QTreeWidgetItem;

namespace ctxscope::viewer {

class LegendWidget;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  /// Starts loading `path` on the worker; documentLoaded or loadFailed follows.
  void open(const QString& path);
  void set_dialogs(bool on) { dialogs_ = on; }
  /// Follows a trace being written (TraceFollower): each update replaces the
  /// document keeping the filter, the test, the selection and the playback
  /// time (or the end); documentUpdated follows each.  stop_following() ends it.
  void follow(const QString& path);
  void stop_following();
  /// Compares two runs (ctxscope-viewer --diff A B): loads both on the worker,
  /// then shows one of them — B, or A when only A has findings the other
  /// lacks — with the Compare tab (findings fixed / new / in both, the kinds
  /// of contexts and waits whose counts differ) and a run selector; what only
  /// the shown run has is marked in the tree and the lanes.  diffLoaded
  /// follows (or loadFailed naming the bad file).  open() or follow() ends it.
  void compare(const QString& a, const QString& b);
  const DiffPtr& diff() const noexcept { return diff_; }
  /// Comparing: shows run A (true) or B, keeping the comparison.
  void show_run(bool run_a);
  bool showing_a() const noexcept { return showing_a_; }
  QTreeWidget* compare_view() const noexcept { return compare_view_; }
  QComboBox* run_box() const noexcept { return run_box_; }
  TraceFollower* follower() const noexcept { return follower_; }
  /// The followed run's state (running / ended / died) of the last update.
  TraceFollower::RunState run_state() const noexcept { return run_state_; }
  /// GUI-thread time of the longest follow update applied so far (ms; the
  /// first document, an open, not counted), for tests and benches.
  double max_update_ms() const noexcept { return max_update_ms_; }
  const DocumentPtr& document() const noexcept { return doc_; }

  // Selection (shared by every view).
  void select_context(std::uint32_t context);
  void select_thread(std::uint32_t thread);
  void select_wait(std::uint32_t thread, std::uint32_t wait);
  void select_finding(std::uint32_t finding);
  std::uint32_t selected_finding() const noexcept { return sel_finding_; }
  void set_filter_text(const QString& text);
  void fit_all();

  // For tests and the bench.
  ContextTreeScene* tree_scene() const noexcept { return tree_scene_; }
  ContextTreeView* tree_view() const noexcept { return tree_view_; }
  ThreadLanesScene* lanes_scene() const noexcept { return lanes_scene_; }
  ThreadLanesView* lanes_view() const noexcept { return lanes_view_; }
  FindingsModel* findings_model() const noexcept { return findings_model_; }
  ContextTreeModel* context_model() const noexcept { return context_model_; }
  ThreadLanesModel* lanes_model() const noexcept { return lanes_model_; }
  QTableView* findings_view() const noexcept { return findings_view_; }
  QTextBrowser* details() const noexcept { return details_; }
  TraceLoader* loader() const noexcept { return loader_; }
  Playback* playback() const noexcept { return playback_; }
  QSlider* scrubber() const noexcept { return scrubber_; }
  QComboBox* speed_box() const noexcept { return speed_box_; }
  QLabel* time_label() const noexcept { return time_label_; }
  /// The test selector: "All tests" then each test of the trace (item data: its id); hidden without tests.
  QComboBox* test_box() const noexcept { return test_box_; }
  void select_test(std::uint32_t test_id);
  std::uint32_t selected_test() const noexcept { return test_; }

 signals:
  /// The first rows of a large run are on screen (a preview; documentLoaded follows).
  void previewShown();
  void documentLoaded();
  void documentUpdated();
  void diffLoaded();
  void loadFailed(const QString& message);

 protected:
  void dragEnterEvent(QDragEnterEvent* e) override;
  void dropEvent(QDropEvent* e) override;

 private:
  void build_ui();
  void show_document(DocumentPtr doc);
  void attach(DocumentPtr doc, bool grown = false);
  void show_error(const QString& path, const QString& message);
  void open_dialog();
  void remember_recent(const QString& path);
  void rebuild_recent_menu();
  void apply_filter();
  void link_clicked(const QUrl& url);
  void show_site(const QString& file, int line);
  void update_status();
  void focus_search();
  void show_wave(std::uint32_t context);
  void time_changed(qint64 t, qint64 previous);
  void apply_update(DocumentPtr doc, TraceFollower::RunState state);
  void rebuild_test_box();
  void set_details(const char* kind, std::uint32_t index, QString body);
  void show_diff(DiffPtr diff);
  void leave_compare();
  void apply_marks();
  void build_compare_tab();
  void compare_item_chosen(QTreeWidgetItem* item);
  QString compare_banner_finding(std::uint32_t f) const;
  QString compare_banner_entity(bool context, std::uint32_t i) const;

  TraceLoader* loader_ = nullptr;
  DocumentPtr doc_;
  std::unique_ptr<TraceFilter> filter_;
  ContextTreeModel* context_model_ = nullptr;
  ThreadLanesModel* lanes_model_ = nullptr;
  FindingsModel* findings_model_ = nullptr;
  ContextTreeScene* tree_scene_ = nullptr;
  ThreadLanesScene* lanes_scene_ = nullptr;
  ContextTreeView* tree_view_ = nullptr;
  ThreadLanesView* lanes_view_ = nullptr;
  QTableView* findings_view_ = nullptr;
  QTreeView* contexts_view_ = nullptr;
  QTableView* threads_view_ = nullptr;
  QTabWidget* tabs_ = nullptr;
  QTextBrowser* details_ = nullptr;
  QLineEdit* search_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QPushButton* cancel_ = nullptr;
  QLabel* status_ = nullptr;
  QMenu* recent_menu_ = nullptr;
  LegendWidget* legend_ = nullptr;
  Playback* playback_ = nullptr;
  QSlider* scrubber_ = nullptr;
  QComboBox* speed_box_ = nullptr;
  QComboBox* test_box_ = nullptr;
  QAction* test_box_action_ = nullptr;
  std::uint32_t test_ = 0;
  TraceFollower* follower_ = nullptr;
  QAction* follow_action_ = nullptr;
  TraceFollower::RunState run_state_ = TraceFollower::RunState::ended;
  bool followed_ = false;
  double max_update_ms_ = 0;
  QLabel* time_label_ = nullptr;
  QAction* play_action_ = nullptr;
  bool dialogs_ = true;
  bool syncing_ = false;
  std::uint32_t sel_finding_;
  // The details pane: its subject (details_at kinds; nullptr: other text), body, playback line.
  const char* details_kind_ = nullptr;
  std::uint32_t details_index_ = 0;
  QString details_body_, details_banner_;
  // Comparing two runs.
  DiffPtr diff_;
  bool showing_a_ = false, switching_run_ = false;
  QTreeWidget* compare_view_ = nullptr;
  QComboBox* run_box_ = nullptr;
  QAction* run_box_action_ = nullptr;
  std::vector<int> ctx_entity_[2], wait_entity_[2];  // [run b, run a]: per index, its EntityCount (-1: none)
  std::vector<std::int8_t> finding_side_[2];         // [run b, run a]: per finding, 0 fixed, 1 new, 2 kept
};

}  // namespace ctxscope::viewer
