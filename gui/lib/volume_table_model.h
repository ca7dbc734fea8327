// VolumeTableModel: one row per volume of the latest snapshot. Rows are
// updated in place (dataChanged over the columns that changed); volumes
// that appear or vanish are inserted or removed, never a reset. Display
// text in DisplayRole, the raw value for sorting in kSortRole.
#pragma once

#include <QHash>
#include <QJsonArray>

#include "headed_table_model.h"
#include "snapshot.h"

namespace udm::gui {

class VolumeTableModel : public HeadedTableModel {
  Q_OBJECT

 public:
  enum Column {
    kName, kState, kTables, kBarrierMode, kSize, kIops, kMBs, kInFlight, kDeferred,
    kBarriersInFlight, kNumColumns
  };
  static constexpr int kSortRole = Qt::UserRole + 1;

  explicit VolumeTableModel(QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override { return FlatRows(parent, rows_.size()); }
  QVariant data(const QModelIndex& index, int role) const override;

  // Applies a snapshot; rates come from the previous sample of each volume.
  void Update(const Snapshot& snapshot);

  int RowOf(const QString& name) const { return index_.value(name, -1); }
  const VolumeSample* Find(const QString& name) const;
  const Rates* RatesOf(const QString& name) const;
  QJsonArray ToJson() const;

 private:
  struct Row {
    VolumeSample sample;
    Rates rates;
    qint64 time_ms = 0;
  };
  QVariant Value(const Row& r, int column) const;
  QString Text(const Row& r, int column) const;
  void Reindex();

  QList<Row> rows_;
  QHash<QString, int> index_;  // name -> row
};

// "512 MiB", "1.5 GiB": sizes as people read them.
QString HumanBytes(double bytes);

}  // namespace udm::gui
