// DashboardModel: snapshot fan-out, detail refresh and protocol actions.
#include "dashboard_model.h"

#include <QJsonArray>

namespace udm::gui {

namespace {

QStringList LinesOf(const CallResult& r) {
  QStringList out;
  if (!r.ok) return out;
  for (const QJsonValue& l : r.result.toObject().value(QLatin1String("lines")).toArray()) {
    out.push_back(l.toString());
  }
  return out;
}

QJsonArray ToArray(const QStringList& l) { return QJsonArray::fromStringList(l); }

}  // namespace

DashboardModel::DashboardModel(ControlClient* client, QObject* parent)
    : QObject(parent), client_(client) {
  connect(client_, &ControlClient::snapshotReceived, this, &DashboardModel::OnSnapshot);
  connect(client_, &ControlClient::stateChanged, this, [this] {
    // A new connection may be a restarted daemon: fetch details again.
    if (client_->state() == ControlClient::State::kConnected) {
      details_key_.clear();
      RefreshDetails();
    }
  });
}

void DashboardModel::OnSnapshot(const Snapshot& snapshot) {
  last_snapshot_ms_ = snapshot.time_ms;
  volumes_.Update(snapshot);
  history_.Add(snapshot, [this](const QString& name) { return volumes_.RatesOf(name); });
  barriers_.Update(SelectedSample());
  RefreshDetails();
  emit snapshotApplied();
}

void DashboardModel::Select(const QString& name) {
  if (name == selected_) return;
  selected_ = name;
  live_table_.clear();
  inactive_table_.clear();
  events_.SetEvents({});
  details_key_.clear();
  barriers_.Update(SelectedSample());
  RefreshDetails();
  emit selectionChanged();
}

void DashboardModel::RefreshDetails() {
  const VolumeSample* v = SelectedSample();
  if (v == nullptr || client_->state() != ControlClient::State::kConnected) return;
  // Tables and events change only with an event, a state change, or a
  // table loaded or cleared (which need not raise an event).
  const QString key = QStringLiteral("%1|%2|%3|%4").arg(v->name).arg(v->event_nr).arg(v->state,
                                                                                      TablesText(*v));
  if (key == details_key_) return;
  details_key_ = key;
  const QString name = v->name;
  auto still = [this, name] { return selected_ == name; };
  client_->Call(QStringLiteral("table"), {{QStringLiteral("name"), name}},
                [this, still](const CallResult& r) {
                  if (!still()) return;
                  live_table_ = LinesOf(r);
                  emit detailsChanged();
                });
  client_->Call(QStringLiteral("table"), {{QStringLiteral("name"), name}, {QStringLiteral("inactive"), true}},
                [this, still](const CallResult& r) {
                  if (!still()) return;
                  inactive_table_ = LinesOf(r);
                  emit detailsChanged();
                });
  client_->Call(QStringLiteral("events"), {{QStringLiteral("name"), name}, {QStringLiteral("limit"), 100}},
                [this, still](const CallResult& r) {
                  if (!still() || !r.ok) return;
                  events_.SetEvents(r.result.toArray());
                  emit detailsChanged();
                });
}

void DashboardModel::Act(const QString& method, const QString& name, QJsonObject params, Reply done) {
  params.insert(QStringLiteral("name"), name);
  client_->Call(method, params, [this, done = std::move(done)](const CallResult& r) {
    details_key_.clear();
    RefreshDetails();
    if (done) done(r);
  });
}

void DashboardModel::Suspend(const QString& name, bool noflush, Reply done) {
  Act(QStringLiteral("suspend"), name, {{QStringLiteral("noflush"), noflush}}, std::move(done));
}

void DashboardModel::Resume(const QString& name, Reply done) {
  Act(QStringLiteral("resume"), name, {}, std::move(done));
}

void DashboardModel::LoadTable(const QString& name, const QString& table, Reply done) {
  Act(QStringLiteral("load"), name, {{QStringLiteral("table"), table}}, std::move(done));
}

void DashboardModel::ClearInactive(const QString& name, Reply done) {
  Act(QStringLiteral("clear"), name, {}, std::move(done));
}

void DashboardModel::SendMessage(const QString& name, qint64 sector, const QStringList& words,
                                 Reply done) {
  Act(QStringLiteral("message"), name,
      {{QStringLiteral("sector"), sector}, {QStringLiteral("args"), ToArray(words)}}, std::move(done));
}

QJsonObject DashboardModel::ToJson() const {
  QJsonObject out{{QStringLiteral("connection"), QLatin1String(StateName(client_->state()))},
                  {QStringLiteral("connection_detail"), client_->detail()},
                  {QStringLiteral("snapshots"), client_->snapshots()},
                  {QStringLiteral("volumes"), volumes_.ToJson()},
                  {QStringLiteral("selected"), selected_}};
  if (const VolumeSample* v = SelectedSample()) {
    const VolumeHistory* h = history_.Find(v->name);
    out.insert(QStringLiteral("details"),
               QJsonObject{{QStringLiteral("name"), v->name},
                           {QStringLiteral("state"), v->state},
                           {QStringLiteral("inflight_barriers"), barriers_.ToJson()},
                           {QStringLiteral("live_table"), ToArray(live_table_)},
                           {QStringLiteral("inactive_table"), ToArray(inactive_table_)},
                           {QStringLiteral("status"), ToArray(v->status)},
                           {QStringLiteral("events"), events_.events()},
                           {QStringLiteral("history_points"), h ? h->size() : 0}});
  }
  return out;
}

}  // namespace udm::gui
