// ActionsPanel: widgets -> DashboardModel actions -> inline results.
#include "actions_panel.h"

#include <QCheckBox>
#include <QFontDatabase>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include "dashboard_model.h"

namespace udm::gui {

namespace {

QLabel* ResultLabel() {
  auto* l = new QLabel;
  l->setWordWrap(true);
  l->setTextInteractionFlags(Qt::TextSelectableByMouse);
  return l;
}

}  // namespace

ActionsPanel::ActionsPanel(DashboardModel* model, QWidget* parent)
    : QWidget(parent), model_(model) {
  auto* state_box = new QGroupBox(tr("Suspend / resume"));
  auto* suspend = new QPushButton(tr("Suspend"));
  noflush_ = new QCheckBox(tr("noflush"));
  noflush_->setToolTip(tr("Suspend without flushing caches; requests a target requeues stay queued"));
  auto* resume = new QPushButton(tr("Resume"));
  auto* clear = new QPushButton(tr("Clear inactive"));
  action_result_ = ResultLabel();
  auto* state_row = new QHBoxLayout;
  for (QWidget* w : std::initializer_list<QWidget*>{suspend, noflush_, resume, clear}) state_row->addWidget(w);
  state_row->addStretch();
  auto* state_layout = new QVBoxLayout(state_box);
  state_layout->addLayout(state_row);
  state_layout->addWidget(action_result_);

  auto* message_box = new QGroupBox(tr("Target message"));
  message_ = new QLineEdit;
  message_->setPlaceholderText(tr("SECTOR MESSAGE [ARGS...], as for udmsetup message"));
  auto* send = new QPushButton(tr("Send"));
  message_result_ = ResultLabel();
  auto* message_row = new QHBoxLayout;
  message_row->addWidget(message_);
  message_row->addWidget(send);
  auto* message_layout = new QVBoxLayout(message_box);
  message_layout->addLayout(message_row);
  message_layout->addWidget(message_result_);

  auto* load_box = new QGroupBox(tr("Load a table into the inactive slot"));
  table_editor_ = new QPlainTextEdit;
  table_editor_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  table_editor_->setPlaceholderText(tr("0 2048 linear /path/to/file 0"));
  auto* load = new QPushButton(tr("Load"));
  auto* copy_live = new QPushButton(tr("Copy live table"));
  load_result_ = ResultLabel();
  auto* load_row = new QHBoxLayout;
  load_row->addWidget(load);
  load_row->addWidget(copy_live);
  load_row->addStretch();
  auto* load_layout = new QVBoxLayout(load_box);
  load_layout->addWidget(table_editor_, 1);
  load_layout->addLayout(load_row);
  load_layout->addWidget(load_result_);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(state_box);
  layout->addWidget(message_box);
  layout->addWidget(load_box, 1);
  buttons_ = {suspend, resume, clear, send, load, copy_live};

  connect(suspend, &QPushButton::clicked, this, [this] {
    model_->Suspend(model_->selected(), noflush_->isChecked(), [this](const CallResult& r) {
      ShowResult(action_result_, r, tr("suspended"));
    });
  });
  connect(resume, &QPushButton::clicked, this, [this] {
    model_->Resume(model_->selected(),
                   [this](const CallResult& r) { ShowResult(action_result_, r, tr("resumed")); });
  });
  connect(clear, &QPushButton::clicked, this, [this] {
    model_->ClearInactive(model_->selected(), [this](const CallResult& r) {
      ShowResult(action_result_, r, tr("inactive table cleared"));
    });
  });
  connect(send, &QPushButton::clicked, this, &ActionsPanel::SendMessage);
  connect(message_, &QLineEdit::returnPressed, this, &ActionsPanel::SendMessage);
  connect(load, &QPushButton::clicked, this, [this] {
    model_->LoadTable(model_->selected(), table_editor_->toPlainText(), [this](const CallResult& r) {
      ShowResult(load_result_, r, tr("loaded into the inactive slot; resume to make it live"));
    });
  });
  connect(copy_live, &QPushButton::clicked, this,
          [this] { table_editor_->setPlainText(model_->live_table().join(QLatin1Char('\n'))); });
  connect(model_, &DashboardModel::selectionChanged, this, &ActionsPanel::OnSelectionChanged);
  OnSelectionChanged();
}

void ActionsPanel::OnSelectionChanged() {
  for (QPushButton* b : buttons_) b->setEnabled(!model_->selected().isEmpty());
  for (QLabel* l : {action_result_, message_result_, load_result_}) l->clear();
}

void ActionsPanel::SendMessage() {
  QStringList words = message_->text().split(QLatin1Char(' '), Qt::SkipEmptyParts);
  bool ok = false;
  const qint64 sector = words.isEmpty() ? -1 : words.front().toLongLong(&ok);
  if (!ok || sector < 0 || words.size() < 2) {
    ShowResult(message_result_,
               {false, {}, QStringLiteral("invalid_argument"),
                tr("expected SECTOR MESSAGE [ARGS...], e.g. \"0 set-flag x\"")},
               {});
    return;
  }
  words.removeFirst();
  model_->SendMessage(model_->selected(), sector, words, [this](const CallResult& r) {
    const QString reply = r.result.toObject().value(QLatin1String("reply")).toString();
    ShowResult(message_result_, r, reply.isEmpty() ? tr("sent") : tr("reply: %1").arg(reply));
  });
}

void ActionsPanel::ShowResult(QLabel* label, const CallResult& r, const QString& ok_text) {
  if (r.ok) {
    label->setStyleSheet(QStringLiteral("color: #2e7d32;"));
    label->setText(ok_text);
  } else {
    label->setStyleSheet(QStringLiteral("color: #c62828; font-weight: bold;"));
    label->setText(r.error_message.isEmpty() ? r.error_code : r.error_message);
  }
}

}  // namespace udm::gui
