// BarrierModel: the in-flight flushes and barriers of the selected volume
// (id, kind, phase, age, requests waiting behind it). Rows are keyed by
// barrier id: a barrier that stays in flight keeps its row and only its
// phase and age change, so a held barrier visibly ages in place.
#pragma once

#include <QJsonArray>

#include "headed_table_model.h"
#include "snapshot.h"

namespace udm::gui {

class BarrierModel : public HeadedTableModel {
  Q_OBJECT

 public:
  enum Column { kId, kKind, kPhase, kAge, kWaiters, kNumColumns };
  // Ages past this are drawn as a warning.
  static constexpr qint64 kSlowUs = 1'000'000;

  explicit BarrierModel(QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override { return FlatRows(parent, rows_.size()); }
  QVariant data(const QModelIndex& index, int role) const override;

  // The barriers of `volume` (none when null).
  void Update(const VolumeSample* volume);
  QJsonArray ToJson() const;

 private:
  struct Row {
    BarrierSample barrier;
    qint64 waiters = 0;
  };
  QList<Row> rows_;  // sorted by id
};

// "1.2 ms", "3.40 s": a duration in microseconds as people read it.
QString HumanMicros(qint64 us);

}  // namespace udm::gui
