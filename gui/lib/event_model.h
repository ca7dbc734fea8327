// EventModel: the selected volume's event history as the daemon's `events`
// method returns it (time, kind, detail; newest last).
#pragma once

#include <QJsonArray>

#include "headed_table_model.h"

namespace udm::gui {

class EventModel : public HeadedTableModel {
  Q_OBJECT

 public:
  enum Column { kTime, kKind, kDetail, kNumColumns };

  explicit EventModel(QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override { return FlatRows(parent, events_.size()); }
  QVariant data(const QModelIndex& index, int role) const override;

  // Replaces the list with an `events` result; entries that are not
  // objects are skipped. The list is small (the daemon returns at most
  // `limit`), so a reset is fine here.
  void SetEvents(const QJsonArray& events);
  const QJsonArray& events() const { return events_; }

 private:
  QJsonArray events_;
};

}  // namespace udm::gui
