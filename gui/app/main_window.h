// MainWindow: the volume list on the left, the selected volume on the
// right, the connection state in the status bar.
#pragma once

#include <QMainWindow>

QT_BEGIN_NAMESPACE
class QLabel;
class QSortFilterProxyModel;
class QTableView;
QT_END_NAMESPACE

namespace udm::gui {

class DashboardModel;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(DashboardModel* model, QWidget* parent = nullptr);

 private:
  void OnConnection();
  void OnSnapshot();
  void SyncSelection();

  DashboardModel* const model_;
  QSortFilterProxyModel* proxy_;
  QTableView* list_;
  QLabel* connection_;
  QLabel* counts_;
};

}  // namespace udm::gui
