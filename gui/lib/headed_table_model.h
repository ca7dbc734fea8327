// HeadedTableModel: the part every dashboard table model shares: a fixed
// list of column headers and a flat (childless) row list.
#pragma once

#include <QAbstractTableModel>
#include <QStringList>

namespace udm::gui {

class HeadedTableModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  HeadedTableModel(QStringList headers, QObject* parent)
      : QAbstractTableModel(parent), headers_(std::move(headers)) {}

  int columnCount(const QModelIndex& parent = {}) const override {
    return parent.isValid() ? 0 : static_cast<int>(headers_.size());
  }
  QVariant headerData(int section, Qt::Orientation o, int role) const override {
    if (o != Qt::Horizontal || role != Qt::DisplayRole || section < 0 || section >= headers_.size()) {
      return {};
    }
    return headers_[section];
  }

 protected:
  // rowCount() for a flat list of `n` rows.
  static int FlatRows(const QModelIndex& parent, qsizetype n) {
    return parent.isValid() ? 0 : static_cast<int>(n);
  }

 private:
  const QStringList headers_;
};

}  // namespace udm::gui
