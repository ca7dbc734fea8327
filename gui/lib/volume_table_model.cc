// VolumeTableModel: snapshot diffing into row inserts, removals and
// dataChanged ranges.
#include "volume_table_model.h"

#include <QJsonObject>
#include <QSet>

namespace udm::gui {

QString HumanBytes(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 5) {
    bytes /= 1024.0;
    ++u;
  }
  return QStringLiteral("%1 %2").arg(bytes, 0, 'f', u == 0 || bytes >= 100 ? 0 : 1).arg(QLatin1String(kUnits[u]));
}

VolumeTableModel::VolumeTableModel(QObject* parent)
    : HeadedTableModel({"Volume", "State", "Tables", "Barriers", "Size", "IOPS", "MB/s", "In-flight",
                        "Deferred", "Barriers in flight"}, parent) {}

QVariant VolumeTableModel::Value(const Row& r, int column) const {
  const VolumeSample& v = r.sample;
  switch (column) {
    case kName: return v.name;
    case kState: return v.state;
    case kTables: return TablesText(v);
    case kBarrierMode: return v.barriers;
    case kSize: return v.sectors;
    case kIops: return r.rates.iops();
    case kMBs: return r.rates.mbs();
    case kInFlight: return v.in_flight;
    case kDeferred: return v.deferred;
    case kBarriersInFlight: return static_cast<qint64>(v.inflight_barriers.size());
  }
  return {};
}

QString VolumeTableModel::Text(const Row& r, int column) const {
  switch (column) {
    case kSize: return HumanBytes(static_cast<double>(r.sample.sectors) * 512.0);
    case kIops: return QString::number(r.rates.iops(), 'f', 0);
    case kMBs: return QString::number(r.rates.mbs(), 'f', 2);
    default: return Value(r, column).toString();
  }
}

QVariant VolumeTableModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rows_.size()) return {};
  const Row& r = rows_[index.row()];
  switch (role) {
    case Qt::DisplayRole: return Text(r, index.column());
    case kSortRole: return Value(r, index.column());
    case Qt::TextAlignmentRole:
      return index.column() >= kSize ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
    case Qt::ToolTipRole:
      if (index.column() == kName) return r.sample.path;
      if (index.column() == kIops) {
        return QStringLiteral("read %1/s, write %2/s")
            .arg(r.rates.read_iops, 0, 'f', 0).arg(r.rates.write_iops, 0, 'f', 0);
      }
      return {};
  }
  return {};
}

const VolumeSample* VolumeTableModel::Find(const QString& name) const {
  int row = RowOf(name);
  return row < 0 ? nullptr : &rows_[row].sample;
}

const Rates* VolumeTableModel::RatesOf(const QString& name) const {
  int row = RowOf(name);
  return row < 0 ? nullptr : &rows_[row].rates;
}

void VolumeTableModel::Reindex() {
  index_.clear();
  for (int i = 0; i < rows_.size(); ++i) index_.insert(rows_[i].sample.name, i);
}

void VolumeTableModel::Update(const Snapshot& snapshot) {
  QSet<QString> present;
  present.reserve(snapshot.volumes.size());
  for (const VolumeSample& v : snapshot.volumes) present.insert(v.name);
  // Removals first, from the bottom so row numbers stay valid.
  for (int i = static_cast<int>(rows_.size()) - 1; i >= 0; --i) {
    if (present.contains(rows_[i].sample.name)) continue;
    beginRemoveRows({}, i, i);
    rows_.removeAt(i);
    endRemoveRows();
  }
  Reindex();
  for (const VolumeSample& v : snapshot.volumes) {
    const int row = RowOf(v.name);
    if (row < 0) {
      const int at = static_cast<int>(rows_.size());
      beginInsertRows({}, at, at);
      rows_.push_back({v, {}, snapshot.time_ms});
      index_.insert(v.name, at);
      endInsertRows();
      continue;
    }
    Row next{v, RatesBetween(rows_[row].sample, rows_[row].time_ms, v, snapshot.time_ms),
             snapshot.time_ms};
    int first = -1, last = -1;
    for (int c = 0; c < kNumColumns; ++c) {
      if (Value(rows_[row], c) != Value(next, c)) {
        if (first < 0) first = c;
        last = c;
      }
    }
    rows_[row] = std::move(next);
    if (first >= 0) emit dataChanged(index(row, first), index(row, last));
  }
}

QJsonArray VolumeTableModel::ToJson() const {
  QJsonArray out;
  for (const Row& r : rows_) {
    const VolumeSample& v = r.sample;
    out.append(QJsonObject{{QStringLiteral("name"), v.name},
                           {QStringLiteral("state"), v.state},
                           {QStringLiteral("live_table"), v.live_table},
                           {QStringLiteral("inactive_table"), v.inactive_table},
                           {QStringLiteral("barriers"), v.barriers},
                           {QStringLiteral("sectors"), v.sectors},
                           {QStringLiteral("iops"), r.rates.iops()},
                           {QStringLiteral("mbs"), r.rates.mbs()},
                           {QStringLiteral("reads"), v.reads},
                           {QStringLiteral("writes"), v.writes},
                           {QStringLiteral("in_flight"), v.in_flight},
                           {QStringLiteral("deferred"), v.deferred},
                           {QStringLiteral("barriers_in_flight"),
                            static_cast<qint64>(v.inflight_barriers.size())}});
  }
  return out;
}

}  // namespace udm::gui
