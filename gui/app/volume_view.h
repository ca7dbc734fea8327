// VolumeView: everything about the selected volume: a header with its
// state, the live charts, and tabs for in-flight barriers, tables and
// status lines, events, and actions. Draws what DashboardModel holds.
#pragma once

#include <QWidget>

QT_BEGIN_NAMESPACE
class QLabel;
class QPlainTextEdit;
class QTabWidget;
QT_END_NAMESPACE

namespace udm::gui {

class DashboardModel;
class VolumeCharts;

class VolumeView : public QWidget {
  Q_OBJECT

 public:
  explicit VolumeView(DashboardModel* model, QWidget* parent = nullptr);

 private:
  void OnSnapshot();
  void OnDetails();

  DashboardModel* const model_;
  QLabel* title_;
  QLabel* badge_;
  QLabel* summary_;
  VolumeCharts* charts_;
  QTabWidget* tabs_;
  QPlainTextEdit* tables_;
  QString status_text_;  // what tables_ shows of the status lines
};

}  // namespace udm::gui
