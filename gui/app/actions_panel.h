// ActionsPanel: the buttons and editors that act on the selected volume
// (suspend with a noflush choice, resume, load a table, clear the inactive
// table, send a target message). Every action is a protocol request made by
// DashboardModel; the daemon's answer is shown inline.
#pragma once

#include <QWidget>

QT_BEGIN_NAMESPACE
class QCheckBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
QT_END_NAMESPACE

namespace udm::gui {

class DashboardModel;
struct CallResult;

class ActionsPanel : public QWidget {
  Q_OBJECT

 public:
  explicit ActionsPanel(DashboardModel* model, QWidget* parent = nullptr);

 private:
  // Shows `r` in `label`: the daemon's error in red, else `ok_text`.
  static void ShowResult(QLabel* label, const CallResult& r, const QString& ok_text);
  void OnSelectionChanged();
  void SendMessage();

  DashboardModel* const model_;
  QCheckBox* noflush_;
  QLabel* action_result_;
  QLineEdit* message_;
  QLabel* message_result_;
  QPlainTextEdit* table_editor_;
  QLabel* load_result_;
  QList<QPushButton*> buttons_;  // disabled while nothing is selected
};

}  // namespace udm::gui
