// EventModel: a read-only view over the last `events` answer.
#include "event_model.h"

#include <QJsonObject>

namespace udm::gui {

EventModel::EventModel(QObject* parent)
    : HeadedTableModel({"Time", "Event", "Detail"}, parent) {}

QVariant EventModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= events_.size() || role != Qt::DisplayRole) return {};
  static const char* const kKeys[kNumColumns] = {"time", "kind", "detail"};
  return events_[index.row()].toObject().value(QLatin1String(kKeys[index.column()])).toString();
}

void EventModel::SetEvents(const QJsonArray& events) {
  QJsonArray kept;
  for (const QJsonValue& e : events) {
    if (e.isObject()) kept.append(e);
  }
  if (kept == events_) return;
  beginResetModel();
  events_ = std::move(kept);
  endResetModel();
}

}  // namespace udm::gui
