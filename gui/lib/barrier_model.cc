// BarrierModel: merge of the sorted barrier list into the existing rows.
#include "barrier_model.h"

#include <QBrush>
#include <QColor>
#include <QJsonObject>

namespace udm::gui {

QString HumanMicros(qint64 us) {
  if (us < 1000) return QStringLiteral("%1 µs").arg(us);
  if (us < 1'000'000) return QStringLiteral("%1 ms").arg(static_cast<double>(us) / 1e3, 0, 'f', 1);
  return QStringLiteral("%1 s").arg(static_cast<double>(us) / 1e6, 0, 'f', 2);
}

BarrierModel::BarrierModel(QObject* parent)
    : HeadedTableModel({"ID", "Kind", "Phase", "Age", "Waiting behind"}, parent) {}

QVariant BarrierModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rows_.size()) return {};
  const Row& r = rows_[index.row()];
  if (role == Qt::ForegroundRole && index.column() == kAge && r.barrier.age_us >= kSlowUs) {
    return QBrush(QColor(0xc6, 0x28, 0x28));
  }
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case kId: return r.barrier.id;
    case kKind: return r.barrier.ordered ? QStringLiteral("ordered barrier") : QStringLiteral("flush");
    case kPhase: return r.barrier.phase;
    case kAge: return HumanMicros(r.barrier.age_us);
    case kWaiters: return r.waiters;
  }
  return {};
}

void BarrierModel::Update(const VolumeSample* volume) {
  QList<Row> next;
  if (volume != nullptr) {
    // The protocol reports the deferred queue per volume, not per barrier:
    // everything in it waits behind the oldest barrier that is past the
    // queue itself, unless the volume is suspended (then it waits for
    // resume).
    bool charged = volume->state != QLatin1String("ACTIVE");
    for (const BarrierSample& b : volume->inflight_barriers) {
      Row r{b, 0};
      if (!charged && b.phase != QLatin1String("queued")) {
        r.waiters = volume->deferred;
        charged = true;
      }
      next.push_back(r);
    }
  }
  // Walk both id-sorted lists: drop rows whose barrier finished, update
  // rows still in flight, insert new ones.
  int i = 0;
  for (const Row& n : next) {
    while (i < rows_.size() && rows_[i].barrier.id < n.barrier.id) {
      beginRemoveRows({}, i, i);
      rows_.removeAt(i);
      endRemoveRows();
    }
    if (i < rows_.size() && rows_[i].barrier.id == n.barrier.id) {
      rows_[i] = n;
      emit dataChanged(index(i, kKind), index(i, kWaiters));
    } else {
      beginInsertRows({}, i, i);
      rows_.insert(i, n);
      endInsertRows();
    }
    ++i;
  }
  if (i < rows_.size()) {
    beginRemoveRows({}, i, static_cast<int>(rows_.size()) - 1);
    rows_.erase(rows_.begin() + i, rows_.end());
    endRemoveRows();
  }
}

QJsonArray BarrierModel::ToJson() const {
  QJsonArray out;
  for (const Row& r : rows_) {
    out.append(QJsonObject{{QStringLiteral("id"), r.barrier.id},
                           {QStringLiteral("ordered"), r.barrier.ordered},
                           {QStringLiteral("phase"), r.barrier.phase},
                           {QStringLiteral("age_us"), r.barrier.age_us},
                           {QStringLiteral("waiters"), r.waiters}});
  }
  return out;
}

}  // namespace udm::gui
