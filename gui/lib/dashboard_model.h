// DashboardModel: everything the dashboard shows, without widgets. Feeds
// each watch snapshot into the volume list and the chart history, keeps the
// selected volume's barriers, tables and events, and sends the actions
// (suspend, resume, load, clear, message) as protocol requests, exactly as
// udmsetup does. Widgets only draw what this holds.
#pragma once

#include <QJsonObject>
#include <QObject>
#include <QStringList>

#include "barrier_model.h"
#include "control_client.h"
#include "event_model.h"
#include "volume_history.h"
#include "volume_table_model.h"

namespace udm::gui {

class DashboardModel : public QObject {
  Q_OBJECT

 public:
  // `client` must outlive this object.
  explicit DashboardModel(ControlClient* client, QObject* parent = nullptr);

  ControlClient* client() const { return client_; }
  VolumeTableModel* volumes() { return &volumes_; }
  BarrierModel* barriers() { return &barriers_; }
  EventModel* events() { return &events_; }
  const HistoryStore& history() const { return history_; }

  // Selects the volume whose details to keep; it need not exist yet (it is
  // picked up when a snapshot brings it).
  void Select(const QString& name);
  const QString& selected() const { return selected_; }
  // The selected volume's latest sample, or null.
  const VolumeSample* SelectedSample() const { return volumes_.Find(selected_); }
  const QStringList& live_table() const { return live_table_; }
  const QStringList& inactive_table() const { return inactive_table_; }
  qint64 last_snapshot_ms() const { return last_snapshot_ms_; }

  // Actions. `done` gets the daemon's answer (its error message verbatim
  // for a refused request); the selected volume's details are refetched.
  using Reply = ControlClient::Reply;
  void Suspend(const QString& name, bool noflush, Reply done);
  void Resume(const QString& name, Reply done);
  void LoadTable(const QString& name, const QString& table, Reply done);
  void ClearInactive(const QString& name, Reply done);
  // `words` is "MSG ARGS..." as for `udmsetup message NAME SECTOR MSG...`.
  void SendMessage(const QString& name, qint64 sector, const QStringList& words, Reply done);

  // The models as JSON, for tests and bug reports (--dump-models).
  QJsonObject ToJson() const;

 signals:
  void snapshotApplied();
  void selectionChanged();
  void detailsChanged();  // tables or events of the selected volume

 private:
  void OnSnapshot(const Snapshot& snapshot);
  void Act(const QString& method, const QString& name, QJsonObject params, Reply done);
  void RefreshDetails();

  ControlClient* const client_;
  VolumeTableModel volumes_;
  HistoryStore history_;
  BarrierModel barriers_;
  EventModel events_;
  QString selected_;
  QStringList live_table_, inactive_table_;
  // What the selected volume's details were fetched for; a change refetches.
  QString details_key_;
  qint64 last_snapshot_ms_ = 0;
};

}  // namespace udm::gui
