// VolumeView: header, charts and detail tabs for one volume.
#include "volume_view.h"

#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>

#include "actions_panel.h"
#include "dashboard_model.h"
#include "state_badge_delegate.h"
#include "volume_charts.h"

namespace udm::gui {

namespace {

QTableView* PlainTable(QAbstractItemModel* model) {
  auto* view = new QTableView;
  view->setModel(model);
  view->verticalHeader()->hide();
  view->horizontalHeader()->setStretchLastSection(true);
  view->setSelectionMode(QAbstractItemView::NoSelection);
  view->setAlternatingRowColors(true);
  return view;
}

}  // namespace

VolumeView::VolumeView(DashboardModel* model, QWidget* parent) : QWidget(parent), model_(model) {
  title_ = new QLabel;
  QFont f = title_->font();
  f.setPointSizeF(f.pointSizeF() * 1.4);
  f.setBold(true);
  title_->setFont(f);
  badge_ = new QLabel;
  summary_ = new QLabel;
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* header = new QHBoxLayout;
  header->addWidget(title_);
  header->addWidget(badge_);
  header->addSpacing(12);
  header->addWidget(summary_, 1);

  charts_ = new VolumeCharts;
  tabs_ = new QTabWidget;
  auto* barriers = PlainTable(model_->barriers());
  barriers->setColumnWidth(0, 50);
  barriers->setColumnWidth(1, 110);
  barriers->setColumnWidth(2, 150);
  tabs_->addTab(barriers, tr("In-flight barriers"));
  tables_ = new QPlainTextEdit;
  tables_->setReadOnly(true);
  tables_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  tabs_->addTab(tables_, tr("Tables && status"));
  tabs_->addTab(PlainTable(model_->events()), tr("Events"));
  tabs_->addTab(new ActionsPanel(model_), tr("Actions"));

  auto* split = new QSplitter(Qt::Horizontal);
  split->addWidget(charts_);
  split->addWidget(tabs_);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 1);
  split->setSizes({1100, 400});
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(header);
  layout->addWidget(split, 1);

  connect(model_, &DashboardModel::snapshotApplied, this, &VolumeView::OnSnapshot);
  connect(model_, &DashboardModel::selectionChanged, this, [this] {
    OnSnapshot();
    OnDetails();
  });
  connect(model_, &DashboardModel::detailsChanged, this, &VolumeView::OnDetails);
  OnSnapshot();
}

void VolumeView::OnSnapshot() {
  const VolumeSample* v = model_->SelectedSample();
  if (v == nullptr) {
    title_->setText(model_->selected().isEmpty() ? tr("No volume selected") : model_->selected());
    badge_->clear();
    badge_->setStyleSheet({});
    summary_->setText(model_->selected().isEmpty() ? QString() : tr("(not in the latest snapshot)"));
    charts_->Update(nullptr, nullptr);
    return;
  }
  title_->setText(v->name);
  badge_->setText(v->state);
  badge_->setStyleSheet(QStringLiteral("background: %1; color: white; font-weight: bold; "
                                       "border-radius: 4px; padding: 2px 8px;")
                            .arg(StateColor(v->state).name()));
  summary_->setText(tr("%1 · barriers: %2 · tables: %3 · open: %4 · events: %5 · "
                       "flushes: %6 · errors: %7")
                        .arg(HumanBytes(static_cast<double>(v->sectors) * 512.0), v->barriers,
                             TablesText(*v))
                        .arg(v->open_count)
                        .arg(v->event_nr)
                        .arg(v->flushes)
                        .arg(v->errors));
  // Charts are the costly part: only draw them when someone can see them.
  if (charts_->isVisible()) charts_->Update(model_->history().Find(v->name), v);
  const QString status = v->status.join(QLatin1Char('\n'));
  if (status != status_text_) {
    status_text_ = status;
    OnDetails();
  }
}

void VolumeView::OnDetails() {
  auto block = [](const QString& heading, const QStringList& lines) {
    return QStringLiteral("# %1\n%2\n").arg(heading, lines.isEmpty() ? QStringLiteral("(none)")
                                                                      : lines.join(QLatin1Char('\n')));
  };
  const VolumeSample* v = model_->SelectedSample();
  const QString text = block(tr("live table"), model_->live_table()) + QLatin1Char('\n') +
                       block(tr("inactive table"), model_->inactive_table()) + QLatin1Char('\n') +
                       block(tr("status (each live target)"), v ? v->status : QStringList());
  if (text != tables_->toPlainText()) tables_->setPlainText(text);
}

}  // namespace udm::gui
