// MainWindow: layout and selection plumbing between the list and the view.
#include "main_window.h"

#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStatusBar>
#include <QTableView>

#include "dashboard_model.h"
#include "state_badge_delegate.h"
#include "volume_view.h"

namespace udm::gui {

MainWindow::MainWindow(DashboardModel* model, QWidget* parent)
    : QMainWindow(parent), model_(model) {
  setWindowTitle(tr("udm dashboard"));
  proxy_ = new QSortFilterProxyModel(this);
  proxy_->setSourceModel(model_->volumes());
  proxy_->setSortRole(VolumeTableModel::kSortRole);
  proxy_->setDynamicSortFilter(true);
  list_ = new QTableView;
  list_->setModel(proxy_);
  list_->setSortingEnabled(true);
  list_->sortByColumn(VolumeTableModel::kName, Qt::AscendingOrder);
  list_->setSelectionBehavior(QAbstractItemView::SelectRows);
  list_->setSelectionMode(QAbstractItemView::SingleSelection);
  list_->verticalHeader()->hide();
  list_->verticalHeader()->setDefaultSectionSize(22);
  list_->setAlternatingRowColors(true);
  list_->setItemDelegateForColumn(VolumeTableModel::kState, new StateBadgeDelegate(list_));
  list_->setColumnWidth(VolumeTableModel::kName, 180);
  list_->setColumnWidth(VolumeTableModel::kState, 120);
  list_->setColumnWidth(VolumeTableModel::kTables, 130);
  for (int c = VolumeTableModel::kBarrierMode; c < VolumeTableModel::kNumColumns; ++c) {
    list_->setColumnWidth(c, 110);
  }
  list_->horizontalHeader()->setStretchLastSection(true);

  // The list across the top (every column visible), the selected volume
  // below it.
  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(list_);
  split->addWidget(new VolumeView(model_));
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 3);
  split->setSizes({220, 680});
  setCentralWidget(split);

  connection_ = new QLabel;
  counts_ = new QLabel;
  statusBar()->addWidget(connection_, 1);
  statusBar()->addPermanentWidget(counts_);

  connect(list_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) {
            if (!current.isValid()) return;
            model_->Select(proxy_->index(current.row(), VolumeTableModel::kName).data().toString());
          });
  connect(model_->client(), &ControlClient::stateChanged, this, &MainWindow::OnConnection);
  connect(model_, &DashboardModel::snapshotApplied, this, &MainWindow::OnSnapshot);
  connect(model_, &DashboardModel::selectionChanged, this, &MainWindow::SyncSelection);
  OnConnection();
  resize(1500, 900);
}

void MainWindow::OnConnection() {
  static const char* const kColors[] = {"#c62828", "#ef8f00", "#2e7d32"};
  const ControlClient* c = model_->client();
  connection_->setText(QStringLiteral("<b style='color:%1'>%2</b> — %3")
                           .arg(QLatin1String(kColors[static_cast<int>(c->state())]),
                                QString::fromLatin1(StateName(c->state())).toUpper(),
                                c->detail().toHtmlEscaped()));
}

void MainWindow::OnSnapshot() {
  counts_->setText(tr("%1 volumes · %2 snapshots").arg(model_->volumes()->rowCount())
                       .arg(model_->client()->snapshots()));
  SyncSelection();
}

void MainWindow::SyncSelection() {
  // A volume selected by name (--select, or before it existed) gets its
  // row highlighted once it is listed.
  const int row = model_->volumes()->RowOf(model_->selected());
  if (row < 0) return;
  const QModelIndex at = proxy_->mapFromSource(model_->volumes()->index(row, 0));
  if (list_->selectionModel()->currentIndex().row() == at.row()) return;
  list_->selectionModel()->setCurrentIndex(
      at, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
}

}  // namespace udm::gui
