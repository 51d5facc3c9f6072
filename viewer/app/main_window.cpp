#include "main_window.hpp"

#include <QAction>
#include <QComboBox>
#include <QSlider>
#include <QApplication>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTextBrowser>
#include <QToolBar>
#include <QTreeView>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "details_html.hpp"
#include "findings_view_model.hpp"
#include "legend_widget.hpp"

namespace ctxscope::viewer {

using analysis::kNoIndex;
using analysis::kNoTime;

namespace {
constexpr int kMaxRecent = 8;
constexpr int kResizePrecision = 100;  // rows a column is sized to
}

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), sel_finding_(kNoIndex) {
  loader_ = new TraceLoader(this);
  context_model_ = new ContextTreeModel(this);
  lanes_model_ = new ThreadLanesModel(this);
  findings_model_ = new FindingsModel(this);
  tree_scene_ = new ContextTreeScene(this);
  lanes_scene_ = new ThreadLanesScene(this);
  playback_ = new Playback(this);
  follower_ = new TraceFollower(this);
  build_ui();
  setAcceptDrops(true);
  setWindowTitle(tr("ctxscope viewer"));

  connect(loader_, &TraceLoader::progress, progress_, &QProgressBar::setValue);
  connect(loader_, &TraceLoader::previewLoaded, this, &MainWindow::show_document);
  connect(loader_, &TraceLoader::loaded, this, &MainWindow::show_document);
  connect(loader_, &TraceLoader::diffLoaded, this, &MainWindow::show_diff);
  connect(loader_, &TraceLoader::failed, this, &MainWindow::show_error);
  connect(loader_, &TraceLoader::cancelled, this, [this](const QString& path) {
    progress_->hide();
    cancel_->hide();
    status_->setText(doc_ && doc_->preview() > 0 && doc_->path() == path.toStdString()
                         ? tr("Loading %1 cancelled: showing only the first rows of the run").arg(path)
                         : tr("Loading %1 cancelled").arg(path));
  });
  connect(tree_scene_, &ContextTreeScene::contextClicked, this, &MainWindow::select_context);
  connect(tree_view_, &ContextTreeView::contextChosen, this, &MainWindow::select_context);
  connect(lanes_scene_, &ThreadLanesScene::waitClicked, this, &MainWindow::select_wait);
  connect(lanes_scene_, &ThreadLanesScene::threadClicked, this, &MainWindow::select_thread);
  connect(playback_, &Playback::timeChanged, this, &MainWindow::time_changed);
  connect(follower_, &TraceFollower::updated, this, &MainWindow::apply_update);
  connect(follower_, &TraceFollower::failed, this, [this](const QString& path, const QString& m) {
    follow_action_->setChecked(false);
    show_error(path, m);
  });
  connect(playback_, &Playback::playingChanged, this, [this](bool on) {
    play_action_->setText(on ? tr("❚❚ Pause") : tr("▶ Play"));
  });
  connect(playback_, &Playback::speedChanged, this, [this](int i) {
    speed_box_->blockSignals(true);
    speed_box_->setCurrentIndex(i);
    speed_box_->blockSignals(false);
  });
}

MainWindow::~MainWindow() = default;

void MainWindow::build_ui() {
  // Menus.
  auto* file = menuBar()->addMenu(tr("&File"));
  auto* open = file->addAction(tr("&Open…"), this, &MainWindow::open_dialog);
  open->setShortcut(QKeySequence::Open);
  recent_menu_ = file->addMenu(tr("Open &Recent"));
  file->addSeparator();
  auto* quit = file->addAction(tr("&Quit"), qApp, &QApplication::quit);
  quit->setShortcut(QKeySequence::Quit);
  auto* view = menuBar()->addMenu(tr("&View"));
  auto* fit = view->addAction(tr("&Fit"), this, &MainWindow::fit_all);
  fit->setShortcut(QKeySequence(Qt::Key_F));
  auto* zin = view->addAction(tr("Zoom &in"), this, [this] {
    if (lanes_view_->hasFocus()) lanes_view_->zoom_by(1.5);
    else tree_view_->zoom_by(1.25);
  });
  zin->setShortcuts({QKeySequence(Qt::Key_Plus), QKeySequence(Qt::Key_Equal)});
  auto* zout = view->addAction(tr("Zoom &out"), this, [this] {
    if (lanes_view_->hasFocus()) lanes_view_->zoom_by(1 / 1.5);
    else tree_view_->zoom_by(1 / 1.25);
  });
  zout->setShortcut(QKeySequence(Qt::Key_Minus));
  auto* find = view->addAction(tr("&Search"), this, &MainWindow::focus_search);
  find->setShortcut(QKeySequence(Qt::Key_Slash));
  rebuild_recent_menu();

  // Toolbar: open, fit, search.
  auto* tb = addToolBar(tr("Main"));
  tb->setMovable(false);
  tb->addAction(open);
  tb->addAction(fit);
  follow_action_ = tb->addAction(tr("Follow"));
  follow_action_->setCheckable(true);
  follow_action_->setToolTip(tr("Follow the trace while its program writes it: the tree grows, the lanes scroll"));
  connect(follow_action_, &QAction::toggled, this, [this](bool on) {
    if (syncing_) return;
    if (on && doc_) follow(QString::fromStdString(doc_->path()));
    else if (!on) stop_following();
  });
  tb->addSeparator();
  search_ = new QLineEdit;
  search_->setPlaceholderText(tr("Filter: site, label, thread, state, rule…  (e.g. state:leaked, rule:stuck-wait)   [/]"));
  search_->setClearButtonEnabled(true);
  search_->setMinimumWidth(520);
  tb->addWidget(search_);
  connect(search_, &QLineEdit::textChanged, this, &MainWindow::apply_filter);
  test_box_ = new QComboBox;
  test_box_->setToolTip(tr("One test's slice of the run: its contexts, threads and findings"));
  test_box_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  test_box_action_ = tb->addWidget(test_box_);
  test_box_action_->setVisible(false);
  connect(test_box_, &QComboBox::currentIndexChanged, this, [this](int i) {
    if (syncing_ || i < 0) return;
    select_test(test_box_->itemData(i).toUInt());
  });
  run_box_ = new QComboBox;
  run_box_->setToolTip(tr("Comparing two runs: which one the tree and the lanes show"));
  run_box_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  run_box_action_ = tb->addWidget(run_box_);
  run_box_action_->setVisible(false);
  connect(run_box_, &QComboBox::currentIndexChanged, this, [this](int i) {
    if (syncing_ || i < 0 || !diff_) return;
    show_run(i == 0);
  });

  // Playback: step back, play/pause, step forward, speed, scrubber, time.
  // Window-wide keys: Space, `,` / `.`, `[` / `]`.
  addToolBarBreak();  // playback on a row of its own: the scrubber wants the width
  auto* pb = addToolBar(tr("Playback"));
  pb->setMovable(false);
  auto* back = pb->addAction(tr("◀|"), playback_, [this] { playback_->step_back(); });
  back->setToolTip(tr("Previous event  [,]"));
  back->setShortcut(QKeySequence(Qt::Key_Comma));
  play_action_ = pb->addAction(tr("▶ Play"), playback_, &Playback::toggle);
  play_action_->setToolTip(tr("Play / pause  [Space]"));
  play_action_->setShortcut(QKeySequence(Qt::Key_Space));
  auto* fwd = pb->addAction(tr("|▶"), playback_, [this] { playback_->step_forward(); });
  fwd->setToolTip(tr("Next event  [.]"));
  fwd->setShortcut(QKeySequence(Qt::Key_Period));
  auto* slower = new QAction(this);
  slower->setShortcut(QKeySequence(Qt::Key_BracketLeft));
  connect(slower, &QAction::triggered, playback_, &Playback::slower);
  auto* faster = new QAction(this);
  faster->setShortcut(QKeySequence(Qt::Key_BracketRight));
  connect(faster, &QAction::triggered, playback_, &Playback::faster);
  addAction(slower);
  addAction(faster);
  for (auto* a : {back, play_action_, fwd, slower, faster}) a->setShortcutContext(Qt::WindowShortcut);
  speed_box_ = new QComboBox;
  for (int i = 0; i < Playback::kSpeedCount; ++i) speed_box_->addItem(QString::number(Playback::kSpeeds[i]) + "x");
  speed_box_->addItem(tr("1 event/step"));
  speed_box_->setCurrentIndex(playback_->speed_index());
  speed_box_->setToolTip(tr("Speed of recorded time  [ [ / ] ]"));
  speed_box_->setFocusPolicy(Qt::NoFocus);
  connect(speed_box_, &QComboBox::currentIndexChanged, playback_, &Playback::set_speed_index);
  pb->addWidget(speed_box_);
  scrubber_ = new QSlider(Qt::Horizontal);
  scrubber_->setRange(0, 10000);
  scrubber_->setValue(10000);
  scrubber_->setMinimumWidth(900);
  scrubber_->setFocusPolicy(Qt::NoFocus);
  scrubber_->setToolTip(tr("The run, from its start to its end: drag to see the state at that time"));
  connect(scrubber_, &QSlider::valueChanged, this, [this](int v) {
    if (syncing_ || !doc_) return;
    const double f = v / 10000.0;
    playback_->seek(doc_->begin_ns() + static_cast<std::int64_t>(f * static_cast<double>(doc_->end_ns() - doc_->begin_ns())));
  });
  pb->addWidget(scrubber_);
  time_label_ = new QLabel;
  time_label_->setMinimumWidth(200);
  pb->addWidget(time_label_);

  // Centre: legend, tree over lanes | findings/contexts/threads over details.
  tree_view_ = new ContextTreeView(tree_scene_);
  lanes_view_ = new ThreadLanesView(lanes_scene_);
  legend_ = new LegendWidget;

  auto* left = new QSplitter(Qt::Vertical);
  left->addWidget(tree_view_);
  left->addWidget(lanes_view_);
  left->setStretchFactor(0, 55);
  left->setStretchFactor(1, 45);
  left->setSizes({500, 400});

  findings_view_ = new QTableView;
  auto* findings_view_model = new FindingsViewModel(this);
  findings_view_model->setSourceModel(findings_model_);
  findings_view_->setModel(findings_view_model);
  findings_view_->setSelectionBehavior(QAbstractItemView::SelectRows);
  findings_view_->setSelectionMode(QAbstractItemView::SingleSelection);
  findings_view_->verticalHeader()->hide();
  findings_view_->horizontalHeader()->setStretchLastSection(true);
  findings_view_->setWordWrap(false);
  findings_view_->setColumnWidth(FindingsModel::RuleColumn, 110);
  findings_view_->setColumnWidth(FindingsModel::SeverityColumn, 62);
  findings_view_->setColumnWidth(FindingsModel::SiteColumn, 120);
  findings_view_->setColumnWidth(FindingsModel::ThreadColumn, 90);
  connect(findings_view_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& cur) {
            if (syncing_ || !cur.isValid()) return;
            select_finding(findings_model_->finding_at(cur.row()));
          });

  contexts_view_ = new QTreeView;
  contexts_view_->setModel(context_model_);
  contexts_view_->setUniformRowHeights(true);
  // Columns sized to the first rows, not to a thousand (the default): at 1M
  // events resizing to contents was 15-23 ms of the open, per view.
  contexts_view_->header()->setResizeContentsPrecision(kResizePrecision);
  connect(contexts_view_->selectionModel(), &QItemSelectionModel::currentChanged, this, [this](const QModelIndex& cur) {
    if (syncing_ || !cur.isValid()) return;
    select_context(static_cast<std::uint32_t>(cur.internalId()));
  });
  threads_view_ = new QTableView;
  threads_view_->setModel(lanes_model_);
  threads_view_->verticalHeader()->hide();
  threads_view_->horizontalHeader()->setResizeContentsPrecision(kResizePrecision);
  threads_view_->setSelectionBehavior(QAbstractItemView::SelectRows);
  connect(threads_view_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& cur) {
    if (syncing_ || !cur.isValid()) return;
    select_thread(lanes_model_->data(cur, ThreadLanesModel::ThreadRole).toUInt());
  });

  tabs_ = new QTabWidget;
  tabs_->addTab(findings_view_, tr("Findings"));
  tabs_->addTab(contexts_view_, tr("Contexts"));
  tabs_->addTab(threads_view_, tr("Threads"));
  compare_view_ = new QTreeWidget;
  compare_view_->setColumnCount(2);
  compare_view_->setHeaderLabels({tr("A → B"), tr("What")});
  compare_view_->setRootIsDecorated(true);
  compare_view_->setUniformRowHeights(true);
  compare_view_->setWordWrap(false);
  compare_view_->setColumnWidth(0, 110);
  connect(compare_view_, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem* cur, QTreeWidgetItem*) {
    if (!syncing_ && cur) compare_item_chosen(cur);
  });

  details_ = new QTextBrowser;
  details_->setOpenLinks(false);
  details_->setPlaceholderText(tr("Select a context, a thread, a wait or a finding."));
  connect(details_, &QTextBrowser::anchorClicked, this, &MainWindow::link_clicked);

  auto* right = new QSplitter(Qt::Vertical);
  right->addWidget(tabs_);
  right->addWidget(details_);
  right->setStretchFactor(0, 35);
  right->setStretchFactor(1, 65);
  right->setSizes({300, 600});

  auto* main = new QSplitter(Qt::Horizontal);
  main->addWidget(left);
  main->addWidget(right);
  main->setStretchFactor(0, 70);
  main->setStretchFactor(1, 30);
  main->setSizes({1080, 520});

  auto* central = new QWidget;
  auto* lay = new QVBoxLayout(central);
  lay->setContentsMargins(0, 0, 0, 0);
  lay->setSpacing(0);
  lay->addWidget(legend_);
  lay->addWidget(main, 1);
  setCentralWidget(central);

  // Status bar: summary, progress, cancel.
  status_ = new QLabel(tr("Open a trace: File → Open, or drop a .db file here."));
  statusBar()->addWidget(status_, 1);
  progress_ = new QProgressBar;
  progress_->setRange(0, 1000);
  progress_->setMaximumWidth(240);
  progress_->hide();
  cancel_ = new QPushButton(tr("Cancel"));
  cancel_->hide();
  connect(cancel_, &QPushButton::clicked, loader_, &TraceLoader::cancel);
  statusBar()->addPermanentWidget(progress_);
  statusBar()->addPermanentWidget(cancel_);
}

void MainWindow::open(const QString& path) {
  leave_compare();
  status_->setText(tr("Loading %1…").arg(path));
  progress_->setValue(0);
  progress_->show();
  cancel_->show();
  loader_->load(path);
}

void MainWindow::open_dialog() {
  const QString p = QFileDialog::getOpenFileName(this, tr("Open trace"), QString(), tr("ctxscope traces (*.db);;All files (*)"));
  if (!p.isEmpty()) open(p);
}

void MainWindow::show_document(DocumentPtr doc) {
  if (!switching_run_) leave_compare();
  // A preview (the first rows of a large run): shown while the whole loads,
  // so the progress bar stays, and no finding is selected yet.
  const bool preview = doc->preview() > 0;
  if (!preview) {
    progress_->hide();
    cancel_->hide();
  }
  sel_finding_ = kNoIndex;
  attach(std::move(doc));
  filter_.reset();  // only now: the scenes held it until set_document dropped it
  details_kind_ = nullptr;
  details_->clear();
  search_->blockSignals(true);
  search_->clear();
  search_->blockSignals(false);
  test_ = 0;
  rebuild_test_box();
  // Only the roots open: expandToDepth() on 47,000 request contexts is
  // quadratic in QTreeView (seconds at 1M events).
  for (int r = 0; r < context_model_->rowCount(); ++r) contexts_view_->expand(context_model_->index(r, 0));
  for (int c = 0; c < ContextTreeModel::ColumnCount; ++c) contexts_view_->resizeColumnToContents(c);
  threads_view_->resizeColumnsToContents();
  setWindowTitle(QStringLiteral("%1 — ctxscope viewer").arg(QFileInfo(QString::fromStdString(doc_->path())).fileName()));
  if (!preview) remember_recent(QString::fromStdString(doc_->path()));
  update_status();
  fit_all();
  // The first finding (the report's order) is what a person looks at first.
  if (preview) {
    // Legible boxes rather than a fitted overview of dots: the first root at
    // natural size (the whole run is fitted when it comes).
    if (!doc_->model().roots().empty()) {
      tree_view_->setTransform(QTransform());
      tree_view_->centre_on(doc_->model().roots().front());
    }
    details_->setHtml(tr("<p><b>Loading…</b> Showing the first rows of the run while the rest loads and the rules "
                         "run; the findings follow.</p>"));
    emit previewShown();
    return;
  }
  if (!doc_->report().findings.empty()) select_finding(0);
  else details_->setHtml(tr("<p><b>No findings.</b> The analyzer found no lost cancel and no wait that missed "
                            "a cancellation in this run.</p><p>Select a context, a thread or a wait to see it here.</p>"));
  emit documentLoaded();
}

// The one place a document reaches the models, the scenes and the playback.
// `grown`: the next document of the followed run (the tree keeps its layout
// and places what is new).
void MainWindow::attach(DocumentPtr doc, bool grown) {
  doc_ = std::move(doc);
  context_model_->set_document(doc_);
  lanes_model_->set_document(doc_);
  findings_model_->set_document(doc_);
  if (grown) follower_->dispose(tree_scene_->follow_document(doc_));
  else tree_scene_->set_document(doc_);
  lanes_scene_->set_document(doc_);
  playback_->set_document(doc_, grown);
}

void MainWindow::rebuild_test_box() {
  // The test selector, only for a trace recorded under the probe.
  syncing_ = true;
  test_box_->clear();
  test_box_->addItem(tr("All tests"), 0u);
  for (const auto& t : doc_->model().tests()) {
    QString name = QString::fromStdString(t.name);
    if (t.kind == 1) name = tr("%1 (suite set-up/tear-down)").arg(name);
    if (t.result == 1) name += tr("  ✗ failed");
    test_box_->addItem(name, t.id);
  }
  test_box_->setCurrentIndex(std::max(0, test_box_->findData(test_)));
  syncing_ = false;
  test_box_action_->setVisible(!doc_->model().tests().empty());
}

void MainWindow::follow(const QString& path) {
  leave_compare();
  followed_ = true;
  run_state_ = TraceFollower::RunState::running;
  syncing_ = true;
  follow_action_->setChecked(true);
  syncing_ = false;
  status_->setText(tr("Following %1…").arg(path));
  follower_->follow(path);
}

void MainWindow::stop_following() {
  follower_->stop();
  followed_ = false;
  syncing_ = true;
  follow_action_->setChecked(false);
  syncing_ = false;
  update_status();
}

void MainWindow::apply_update(DocumentPtr doc, TraceFollower::RunState state) {
  QElapsedTimer clock;
  clock.start();
  struct Measure {
    QElapsedTimer& c;
    double& max;
    ~Measure() {
      if (c.isValid()) max = std::max(max, static_cast<double>(c.nsecsElapsed()) / 1e6);
    }
  } measure{clock, max_update_ms_};
  run_state_ = state;
  if (state != TraceFollower::RunState::running) {
    syncing_ = true;
    follow_action_->setChecked(false);
    syncing_ = false;
  }
  if (!doc_ || doc_->path() != doc->path()) {
    measure.c.invalidate();  // the first document is an open (show_document), not an update
    show_document(std::move(doc));
    emit documentUpdated();
    return;
  }
  // The same run, grown: indices are stable (the model only appends), so the
  // selection, the filter, the test and the playback time carry over.
  const auto sel_c = tree_scene_->selected_context();
  const auto sel_t = lanes_scene_->selected_thread(), sel_w = lanes_scene_->selected_wait();
  const bool at_end = playback_->at_end();
  const auto t = playback_->time();
  auto old = doc_;  // freed on the follower's thread once nothing here holds it
  attach(std::move(doc), /*grown=*/true);
  if (!at_end) playback_->seek(t);
  filter_.reset();
  follower_->dispose(std::move(old));
  rebuild_test_box();
  const auto text = search_->text().trimmed();
  if (!text.isEmpty() || test_ != 0) apply_filter();
  if (sel_c != kNoIndex) tree_scene_->select_context(sel_c);
  lanes_scene_->select(sel_t, sel_w);
  if (sel_c == kNoIndex && sel_t == kNoIndex && !doc_->report().findings.empty()) select_finding(0);
  lanes_view_->fit();  // the lanes scroll: the whole run so far
  if (tree_scene_->drawn().size() < 200) tree_view_->fit();
  update_status();
  // The scenes' item updates are deferred (QGraphicsScene processes dirty
  // items in a queued call) while the refit above repaints at once: each
  // update painted the lanes twice, a second full paint in the next loop
  // iteration.  Processed here, they join the refit's one repaint.
  QCoreApplication::sendPostedEvents(lanes_scene_, QEvent::MetaCall);
  QCoreApplication::sendPostedEvents(tree_scene_, QEvent::MetaCall);
  emit documentUpdated();
}

// ---- comparing two runs ------------------------------------------------------

void MainWindow::compare(const QString& a, const QString& b) {
  leave_compare();
  status_->setText(tr("Loading %1 and %2 to compare…").arg(a, b));
  progress_->setValue(0);
  progress_->show();
  cancel_->show();
  loader_->load_pair(a, b);
}

void MainWindow::leave_compare() {
  if (!diff_) return;
  diff_.reset();
  const int i = tabs_->indexOf(compare_view_);
  if (i >= 0) tabs_->removeTab(i);
  compare_view_->clear();
  run_box_action_->setVisible(false);
  legend_->set_compare_mark(QString());
  tree_scene_->set_marks({}, QString());
  lanes_scene_->set_marks({});
}

void MainWindow::show_diff(DiffPtr d) {
  leave_compare();
  diff_ = std::move(d);
  const auto& rd = diff_->diff;
  // Which finding is which, and which entity count each surplus entity is in.
  for (int side = 0; side < 2; ++side) {
    const auto& doc = *diff_->run(side == 1);
    finding_side_[side].assign(doc.report().findings.size(), -1);
    ctx_entity_[side].assign(doc.model().contexts().size(), -1);
    wait_entity_[side].assign(doc.model().waits().size(), -1);
  }
  for (auto f : rd.fixed_in_a) finding_side_[1][f] = 0;
  for (auto f : rd.added_in_b) finding_side_[0][f] = 1;
  for (auto f : rd.kept_in_b) finding_side_[0][f] = 2;
  for (int k = 0; k < 2; ++k) {
    const auto& counts = k == 0 ? rd.contexts : rd.waits;
    auto& per = k == 0 ? ctx_entity_ : wait_entity_;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      for (auto x : counts[i].only_a) per[1][x] = static_cast<int>(i);
      for (auto x : counts[i].only_b) per[0][x] = static_cast<int>(i);
    }
  }
  syncing_ = true;
  run_box_->clear();
  run_box_->addItem(tr("A: %1").arg(QFileInfo(QString::fromStdString(diff_->a->path())).fileName()));
  run_box_->addItem(tr("B: %1").arg(QFileInfo(QString::fromStdString(diff_->b->path())).fileName()));
  syncing_ = false;
  run_box_action_->setVisible(true);
  build_compare_tab();
  // What a person asks first: did the fix add anything (B's new findings)?
  // If not, what did it remove (A's fixed findings, shown in A)?
  const bool start_a = rd.added.empty() && !rd.fixed.empty();
  show_run(start_a);
  if (!rd.added.empty()) select_finding(rd.added_in_b.front());
  else if (!rd.fixed.empty()) select_finding(rd.fixed_in_a.front());
  tabs_->setCurrentWidget(compare_view_);
  emit diffLoaded();
}

void MainWindow::show_run(bool run_a) {
  if (!diff_) return;
  showing_a_ = run_a;
  switching_run_ = true;
  show_document(diff_->run(run_a));
  switching_run_ = false;
  syncing_ = true;
  run_box_->setCurrentIndex(run_a ? 0 : 1);
  syncing_ = false;
  apply_marks();
  setWindowTitle(QStringLiteral("%1 → %2 (showing %3) — ctxscope viewer")
                     .arg(QFileInfo(QString::fromStdString(diff_->a->path())).fileName(),
                          QFileInfo(QString::fromStdString(diff_->b->path())).fileName(),
                          run_a ? QStringLiteral("A") : QStringLiteral("B")));
  update_status();
}

void MainWindow::apply_marks() {
  const QString badge = showing_a_ ? tr("ONLY IN A") : tr("ONLY IN B");
  tree_scene_->set_marks(diff_->contexts_only_in(showing_a_), badge);
  lanes_scene_->set_marks(diff_->waits_only_in(showing_a_));
  legend_->set_compare_mark(showing_a_ ? tr("only in A (this run): B has fewer of its kind")
                                       : tr("only in B (this run): A has fewer of its kind"));
}

namespace {
// Item data of the Compare tab's rows.
enum CompareRole { KindRole = Qt::UserRole, RunRole, IndexRole };
enum CompareKind { GroupRow, FindingRow, ContextRow, WaitRow };
}  // namespace

void MainWindow::build_compare_tab() {
  const auto& rd = diff_->diff;
  compare_view_->clear();
  auto group = [&](const QString& title, int n) {
    auto* g = new QTreeWidgetItem(compare_view_, {QString::number(n), title});
    g->setData(0, KindRole, GroupRow);
    QFont f = g->font(1);
    f.setBold(true);
    g->setFont(0, f);
    g->setFont(1, f);
    g->setFirstColumnSpanned(false);
    return g;
  };
  auto findings = [&](QTreeWidgetItem* g, const std::vector<std::uint32_t>& idx, bool run_a, const QString& tag) {
    const auto& doc = *diff_->run(run_a);
    for (auto f : idx) {
      const auto& x = doc.report().findings[f];
      auto* it = new QTreeWidgetItem(g, {tag, QString::fromStdString(x.rule + "  " + x.message)});
      it->setToolTip(1, QString::fromStdString(x.message));
      it->setData(0, KindRole, FindingRow);
      it->setData(0, RunRole, run_a);
      it->setData(0, IndexRole, f);
    }
    g->setExpanded(true);
  };
  findings(group(tr("Fixed — in A, not in B"), static_cast<int>(rd.fixed.size())), rd.fixed_in_a, true, tr("A only"));
  findings(group(tr("New — in B, not in A"), static_cast<int>(rd.added.size())), rd.added_in_b, false, tr("B only"));
  auto* kept = group(tr("In both"), static_cast<int>(rd.kept.size()));
  findings(kept, rd.kept_in_b, false, tr("A and B"));
  kept->setExpanded(rd.kept.size() <= 20);
  auto counts = [&](const QString& title, const std::vector<analysis::EntityCount>& cs, int kind) {
    auto* g = group(title, static_cast<int>(cs.size()));
    for (std::size_t i = 0; i < cs.size(); ++i) {
      const auto& c = cs[i];
      auto* it = new QTreeWidgetItem(g, {QStringLiteral("%1 → %2").arg(c.a).arg(c.b), QString::fromStdString(c.what)});
      it->setToolTip(1, QString::fromStdString(c.what));
      it->setData(0, KindRole, kind);
      it->setData(0, RunRole, !c.only_a.empty());
      it->setData(0, IndexRole, static_cast<unsigned>(i));
    }
    g->setExpanded(cs.size() <= 50);
  };
  counts(tr("Contexts whose count differs (kind, creation function, ancestry)"), rd.contexts, ContextRow);
  counts(tr("Waits whose count differs (object, label, function)"), rd.waits, WaitRow);
  compare_view_->resizeColumnToContents(0);
  if (tabs_->indexOf(compare_view_) < 0) tabs_->addTab(compare_view_, tr("Compare"));
}

void MainWindow::compare_item_chosen(QTreeWidgetItem* item) {
  if (!diff_) return;
  const int kind = item->data(0, KindRole).toInt();
  if (kind == GroupRow) return;
  const bool run_a = item->data(0, RunRole).toBool();
  const auto i = item->data(0, IndexRole).toUInt();
  if (run_a != showing_a_) show_run(run_a);
  if (kind == FindingRow) {
    select_finding(i);
    return;
  }
  const auto& c = (kind == ContextRow ? diff_->diff.contexts : diff_->diff.waits)[i];
  const auto& only = run_a ? c.only_a : c.only_b;
  if (only.empty()) return;
  if (kind == ContextRow) {
    tree_scene_->reveal(only.front());
    select_context(only.front());
  } else {
    const auto& m = doc_->model();
    select_wait(m.find_thread(m.waits()[only.front()].thread), only.front());
  }
}

QString MainWindow::compare_banner_finding(std::uint32_t f) const {
  if (!diff_) return {};
  const auto& side = finding_side_[showing_a_ ? 1 : 0];
  if (f >= side.size() || side[f] < 0) return {};
  static const char* const text[] = {
      "<b>Fixed</b>: run A has this finding, run B does not.",
      "<b>New</b>: run B has this finding, run A did not — a regression.",
      "<b>In both</b>: runs A and B have this finding.",
  };
  static const char* const colour[] = {"#1b5e20", "#8e0000", "#555555"};
  return QStringLiteral("<p style='color:%1'>%2</p>").arg(colour[side[f]], tr(text[side[f]]));
}

QString MainWindow::compare_banner_entity(bool context, std::uint32_t i) const {
  if (!diff_) return {};
  const int r = showing_a_ ? 1 : 0;
  const auto& per = context ? ctx_entity_[r] : wait_entity_[r];
  if (i >= per.size() || per[i] < 0) return {};
  const auto& c = (context ? diff_->diff.contexts : diff_->diff.waits)[static_cast<std::size_t>(per[i])];
  return QStringLiteral("<p style='color:#6a1b9a'><b>Only in %1</b>: %2 has %3 of this kind, %1 has %4 (%5)</p>")
      .arg(showing_a_ ? QStringLiteral("A") : QStringLiteral("B"), showing_a_ ? QStringLiteral("B") : QStringLiteral("A"))
      .arg(showing_a_ ? c.b : c.a)
      .arg(showing_a_ ? c.a : c.b)
      .arg(QString::fromStdString(c.what).toHtmlEscaped());
}

void MainWindow::show_error(const QString& path, const QString& message) {
  progress_->hide();
  cancel_->hide();
  status_->setText(message);
  if (dialogs_) QMessageBox::warning(this, tr("Cannot open %1").arg(QFileInfo(path).fileName()), message);
  emit loadFailed(message);
}

void MainWindow::update_status() {
  if (!doc_) return;
  const auto& m = doc_->model();
  const auto& r = doc_->report();
  if (doc_->preview() > 0) {
    status_->setText(tr("%1 — loading %2 events: showing the first %3 contexts, %4 threads and %5 waits; the rules' "
                        "findings follow")
                         .arg(QFileInfo(QString::fromStdString(doc_->path())).fileName())
                         .arg(m.run().events)
                         .arg(m.contexts().size())
                         .arg(m.threads().size())
                         .arg(m.waits().size()));
    return;
  }
  QString s = tr("%1 — %2 contexts, %3 threads, %4 waits, %5 events over %6; %7 %8")
                  .arg(QFileInfo(QString::fromStdString(doc_->path())).fileName())
                  .arg(m.contexts().size())
                  .arg(m.threads().size())
                  .arg(m.waits().size())
                  .arg(m.run().events)
                  .arg(QString::fromStdString(analysis::format_duration(doc_->end_ns() - doc_->begin_ns())))
                  .arg(r.findings.size())
                  .arg(r.findings.size() == 1 ? tr("finding") : tr("findings"));
  if (followed_) {
    switch (run_state_) {
      case TraceFollower::RunState::running: s += tr("   ● following: the program is running"); break;
      case TraceFollower::RunState::ended: s += tr("   ■ run ended"); break;
      case TraceFollower::RunState::died: s += tr("   ✖ incomplete run: the program died (no end marker)"); break;
    }
  }
  for (const auto& w : doc_->warnings()) s += QStringLiteral("   ⚠ ") + QString::fromStdString(w);
  if (filter_ && !filter_->empty()) s += tr("   filter: %1 contexts match").arg(filter_->matching_contexts());
  if (diff_)
    s += tr("   comparing: showing %1 of A → B — %2 fixed, %3 new, %4 in both")
             .arg(showing_a_ ? tr("A") : tr("B"))
             .arg(diff_->diff.fixed.size())
             .arg(diff_->diff.added.size())
             .arg(diff_->diff.kept.size());
  status_->setText(s);
}

void MainWindow::set_details(const char* kind, std::uint32_t index, QString body) {
  details_kind_ = kind;
  details_index_ = index;
  details_body_ = std::move(body);
  details_banner_ = details_at(*doc_, kind, index, playback_->time());
  details_->setHtml(details_banner_ + details_body_);
}

void MainWindow::time_changed(qint64 t, qint64 previous) {
  tree_scene_->set_time(t, previous);
  lanes_scene_->set_time(t, previous);
  // The details pane says what the selection was at t (only when that changed: one setHtml).
  if (doc_ && details_kind_) {
    auto banner = details_at(*doc_, details_kind_, details_index_, t);
    if (banner != details_banner_) {
      details_banner_ = std::move(banner);
      details_->setHtml(details_banner_ + details_body_);
    }
  }
  if (!doc_) {
    time_label_->clear();
    return;
  }
  const auto span = doc_->end_ns() - doc_->begin_ns();
  syncing_ = true;
  scrubber_->setValue(span > 0 ? static_cast<int>(std::llround(10000.0 * static_cast<double>(t - doc_->begin_ns()) /
                                                               static_cast<double>(span)))
                               : 10000);
  syncing_ = false;
  time_label_->setText(t >= doc_->end_ns()
                           ? tr("end  %1").arg(QString::fromStdString(analysis::format_duration(doc_->end_ns())))
                           : tr("t = %1 / %2")
                                 .arg(QString::fromStdString(analysis::format_duration(t)))
                                 .arg(QString::fromStdString(analysis::format_duration(doc_->end_ns()))));
}

void MainWindow::fit_all() {
  tree_view_->fit();
  lanes_view_->fit();
}

void MainWindow::focus_search() {
  search_->setFocus(Qt::ShortcutFocusReason);
  search_->selectAll();
}

void MainWindow::set_filter_text(const QString& text) { search_->setText(text); }

void MainWindow::apply_filter() {
  if (!doc_) return;
  const auto text = search_->text().trimmed().toStdString();
  auto f = std::make_unique<TraceFilter>(*doc_, text, test_);
  const TraceFilter* fp = f->empty() ? nullptr : f.get();
  tree_scene_->set_filter(fp);
  lanes_scene_->set_filter(fp);
  findings_model_->set_filter(fp);
  filter_ = std::move(f);  // after the users switched to the new one
  tree_view_->fit();
  update_status();
}

void MainWindow::select_test(std::uint32_t id) {
  if (!doc_ || (id != 0 && !doc_->model().find_test(id))) id = 0;
  test_ = id;
  syncing_ = true;
  test_box_->setCurrentIndex(std::max(0, test_box_->findData(id)));
  syncing_ = false;
  apply_filter();
}

void MainWindow::show_wave(std::uint32_t c) {
  std::uint32_t origin = kNoIndex;
  if (doc_ && c != kNoIndex && c < doc_->model().contexts().size()) {
    const auto& x = doc_->model().contexts()[c];
    if (x.cancel_ns != kNoTime) origin = x.cancel_origin != kNoIndex ? x.cancel_origin : c;
  }
  lanes_scene_->set_wave(origin);
}

void MainWindow::select_context(std::uint32_t c) {
  if (!doc_ || c >= doc_->model().contexts().size()) return;
  syncing_ = true;
  sel_finding_ = kNoIndex;
  tree_scene_->select_context(c);
  tree_view_->centre_on(c);
  show_wave(c);
  // The lane of the thread working for it, when one does.
  std::uint32_t t = kNoIndex;
  for (std::uint32_t i = 0; i < doc_->model().threads().size(); ++i)
    if (doc_->model().threads()[i].ctx == c || doc_->model().threads()[i].effective_ctx == c) { t = i; break; }
  lanes_scene_->select(t, kNoIndex);
  if (t != kNoIndex) lanes_view_->show_lane(lanes_scene_->row_of_thread(t));
  const auto idx = context_model_->index_of_context(c);
  contexts_view_->setCurrentIndex(idx);
  findings_view_->clearSelection();
  set_details("ctx", c, compare_banner_entity(true, c) + context_details(*doc_, c));
  syncing_ = false;
}

void MainWindow::select_thread(std::uint32_t t) {
  if (!doc_ || t >= doc_->model().threads().size()) return;
  syncing_ = true;
  sel_finding_ = kNoIndex;
  lanes_scene_->select(t, kNoIndex);
  const auto& th = doc_->model().threads()[t];
  const auto c = th.effective_ctx != kNoIndex ? th.effective_ctx : th.ctx;
  tree_scene_->select_context(c);
  if (c != kNoIndex) tree_view_->centre_on(c);
  show_wave(c);
  findings_view_->clearSelection();
  set_details("thread", t, thread_details(*doc_, t));
  syncing_ = false;
}

void MainWindow::select_wait(std::uint32_t t, std::uint32_t w) {
  if (!doc_ || w >= doc_->model().waits().size()) return;
  syncing_ = true;
  sel_finding_ = kNoIndex;
  lanes_scene_->select(t, w);
  const auto& wt = doc_->model().waits()[w];
  auto c = wt.done_ctx;
  if (c == kNoIndex && t != kNoIndex) c = doc_->model().threads()[t].effective_ctx;
  tree_scene_->select_context(c);
  if (c != kNoIndex) tree_view_->centre_on(c);
  show_wave(c);
  findings_view_->clearSelection();
  set_details("wait", w, compare_banner_entity(false, w) + wait_details(*doc_, w));
  syncing_ = false;
}

void MainWindow::select_finding(std::uint32_t f) {
  if (!doc_ || f >= doc_->report().findings.size()) return;
  syncing_ = true;
  sel_finding_ = f;
  const auto c = doc_->finding_context(f), t = doc_->finding_thread(f), w = doc_->finding_wait(f);
  tree_scene_->select_context(c);
  if (c != kNoIndex) tree_view_->centre_on(c);
  show_wave(c);
  lanes_scene_->select(t, w);
  if (t != kNoIndex) lanes_view_->show_lane(lanes_scene_->row_of_thread(t));
  if (w != kNoIndex) {
    const auto& wt = doc_->model().waits()[w];
    const auto end = wt.end_ns == kNoTime ? doc_->end_ns() : wt.end_ns;
    // A wait too short to see at this zoom (a use-after-cancel is instant):
    // zoom to it, with what happened around it.
    if ((end - wt.begin_ns) / 1000.0 / lanes_view_->us_per_px() < 24) {
      const auto pad = std::max<std::int64_t>({(end - wt.begin_ns) * 2, (doc_->end_ns() - doc_->begin_ns()) / 40, 2000});
      lanes_view_->zoom_to(wt.begin_ns - pad, end + pad);
    } else {
      lanes_view_->show_range(wt.begin_ns, end);
    }
  }
  const int row = findings_model_->row_of_finding(f);
  if (row >= 0) {
    findings_view_->selectRow(row);
    findings_view_->scrollTo(findings_view_->model()->index(row, 0));
  }
  if (c != kNoIndex) contexts_view_->setCurrentIndex(context_model_->index_of_context(c));
  set_details("finding", f, compare_banner_finding(f) + finding_details(*doc_, f));
  syncing_ = false;
}

void MainWindow::link_clicked(const QUrl& url) {
  if (!doc_) return;
  const QString s = url.toString();
  const int colon = s.indexOf(':');
  if (colon < 0) return;
  const QString kind = s.left(colon);
  const auto n = s.mid(colon + 1).toUInt();
  if (kind == "ctx") select_context(n);
  else if (kind == "thread") select_thread(n);
  else if (kind == "wait") {
    if (n < doc_->model().waits().size()) select_wait(doc_->model().find_thread(doc_->model().waits()[n].thread), n);
  } else if (kind == "site") {
    const auto& site = doc_->model().site(n);
    if (site.known()) show_site(QString::fromStdString(site.file), site.line);
  } else if (kind == "frame") {  // frame:STACK/DEPTH
    const QStringList p = s.mid(colon + 1).split('/');
    const auto stacks = doc_->model().stacks();
    if (p.size() != 2) return;
    const auto st = p[0].toUInt(), d = p[1].toUInt();
    if (st < stacks.size() && d < stacks[st].size() && !stacks[st][d].file.empty() && stacks[st][d].line > 0)
      show_site(QString::fromStdString(stacks[st][d].file), stacks[st][d].line);
  }
}

void MainWindow::show_site(const QString& file, int line) {
  const QByteArray editor = qgetenv("VISUAL").isEmpty() ? qgetenv("EDITOR") : qgetenv("VISUAL");
  if (!editor.isEmpty() && QFileInfo::exists(file)) {
    // The editor variable may hold arguments ("code -w"): let the shell split it.
    QProcess::startDetached(QStringLiteral("/bin/sh"),
                            {QStringLiteral("-c"), QStringLiteral("exec ${VISUAL:-$EDITOR} \"+$1\" \"$0\""), file,
                             QString::number(line)});
    status_->setText(tr("Opened %1:%2 in %3").arg(file).arg(line).arg(QString::fromLocal8Bit(editor)));
    return;
  }
  const QString snip = source_snippet(file, line);
  if (snip.isEmpty()) {
    status_->setText(tr("%1: source not found on this machine").arg(file));
    return;
  }
  details_kind_ = nullptr;
  details_->setHtml(snip);
}

void MainWindow::remember_recent(const QString& path) {
  QSettings st;
  QStringList r = st.value("recent").toStringList();
  const QString abs = QFileInfo(path).absoluteFilePath();
  r.removeAll(abs);
  r.prepend(abs);
  while (r.size() > kMaxRecent) r.removeLast();
  st.setValue("recent", r);
  rebuild_recent_menu();
}

void MainWindow::rebuild_recent_menu() {
  recent_menu_->clear();
  const QStringList r = QSettings().value("recent").toStringList();
  for (const auto& p : r) recent_menu_->addAction(p, this, [this, p] { open(p); });
  recent_menu_->setEnabled(!r.isEmpty());
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
  if (e->mimeData()->hasUrls() && !e->mimeData()->urls().isEmpty() && e->mimeData()->urls().front().isLocalFile())
    e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
  const auto urls = e->mimeData()->urls();
  if (!urls.isEmpty() && urls.front().isLocalFile()) {
    open(urls.front().toLocalFile());
    e->acceptProposedAction();
  }
}

}  // namespace ctxscope::viewer
