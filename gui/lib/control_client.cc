// ControlClient: connection state machine, watch stream, request matching.
#include "control_client.h"

#include "socket_path.h"

namespace udm::gui {

namespace {
constexpr qint64 kWatchId = 1;  // the watch connection carries one request
}

const char* StateName(ControlClient::State s) {
  switch (s) {
    case ControlClient::State::kDisconnected: return "disconnected";
    case ControlClient::State::kConnecting: return "connecting";
    case ControlClient::State::kConnected: return "connected";
  }
  return "?";
}

ControlClient::ControlClient(QString socket_path, int interval_ms, QObject* parent)
    : QObject(parent), path_(std::move(socket_path)), interval_ms_(interval_ms) {
  retry_.setSingleShot(true);
  connect(&retry_, &QTimer::timeout, this, &ControlClient::Connect);
  connect(&watch_, &LineChannel::opened, this, [this] {
    QJsonObject params{{QStringLiteral("interval_ms"), interval_ms_}};
    watch_.Send({{QStringLiteral("id"), kWatchId},
                 {QStringLiteral("method"), QStringLiteral("watch")},
                 {QStringLiteral("params"), params}});
  });
  connect(&watch_, &LineChannel::frameReceived, this, &ControlClient::OnWatchFrame);
  connect(&watch_, &LineChannel::frameRejected, this, &ControlClient::Reject);
  connect(&watch_, &LineChannel::closed, this, &ControlClient::Fail);
  connect(&calls_, &LineChannel::opened, this, [this] {
    while (!outbox_.empty()) {
      calls_.Send(outbox_.front());
      outbox_.pop_front();
    }
  });
  connect(&calls_, &LineChannel::frameReceived, this, &ControlClient::OnCallFrame);
  connect(&calls_, &LineChannel::frameRejected, this, &ControlClient::Reject);
  connect(&calls_, &LineChannel::closed, this, &ControlClient::Fail);
}

void ControlClient::Start() { Connect(); }

void ControlClient::Connect() {
  if (QString bad = CheckSocketFile(path_); !bad.isEmpty()) {
    Fail(bad);
    return;
  }
  SetState(State::kConnecting, QStringLiteral("connecting to %1").arg(path_));
  watch_.Open(path_);
  calls_.Open(path_);
}

void ControlClient::Fail(const QString& why) {
  watch_.Close();
  calls_.Close();
  SetState(State::kDisconnected,
           QStringLiteral("%1; retrying in %2 ms").arg(why).arg(retry_ms_));
  FailPending(why);
  retry_.start(retry_ms_);
  retry_ms_ = std::min(retry_ms_ * 2, kMaxRetryMs);
}

void ControlClient::FailPending(const QString& why) {
  std::deque<Pending> failed;
  failed.swap(pending_);
  outbox_.clear();
  for (Pending& p : failed) {
    p.done({false, {}, QStringLiteral("disconnected"), QStringLiteral("not connected to udmd: ") + why});
  }
}

void ControlClient::SetState(State s, QString detail) {
  if (s == state_ && detail == detail_) return;
  state_ = s;
  detail_ = std::move(detail);
  emit stateChanged();
}

void ControlClient::Reject(const QString& why) {
  ++rejected_;
  emit frameRejected(why);
}

void ControlClient::OnWatchFrame(const QJsonObject& frame) {
  if (frame.contains(QLatin1String("snapshot"))) {
    QJsonValue snap = frame.value(QLatin1String("snapshot"));
    if (!snap.isObject()) return Reject(QStringLiteral("watch frame: 'snapshot' is not an object"));
    auto parsed = ParseSnapshot(snap.toObject());
    if (!parsed) return Reject(parsed.error());
    ++snapshots_;
    emit snapshotReceived(*parsed);
    return;
  }
  if (frame.contains(QLatin1String("error"))) {
    QString msg = frame.value(QLatin1String("error")).toObject().value(QLatin1String("message")).toString();
    return Fail(QStringLiteral("watch refused: ") + msg);
  }
  if (frame.value(QLatin1String("result")).toObject().value(QLatin1String("watching")).toBool()) {
    ++connects_;
    retry_ms_ = kFirstRetryMs;
    SetState(State::kConnected, QStringLiteral("connected to %1, every %2 ms").arg(path_).arg(interval_ms_));
    return;
  }
  Reject(QStringLiteral("watch frame with neither snapshot, result nor error"));
}

void ControlClient::OnCallFrame(const QJsonObject& frame) {
  QJsonValue id = frame.value(QLatin1String("id"));
  // Responses come in request order. An error about a request the daemon
  // could not read carries "id": null and belongs to the oldest one.
  const bool matches =
      !pending_.empty() &&
      ((id.isDouble() && static_cast<qint64>(id.toDouble()) == pending_.front().id) ||
       (id.isNull() && frame.contains(QLatin1String("error"))));
  if (!matches) {
    return Reject(QStringLiteral("response with unexpected id %1")
                      .arg(id.isDouble() ? QString::number(id.toDouble()) : QStringLiteral("null")));
  }
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  CallResult r;
  if (frame.contains(QLatin1String("error"))) {
    QJsonObject e = frame.value(QLatin1String("error")).toObject();
    r.error_code = e.value(QLatin1String("code")).toString();
    r.error_message = e.value(QLatin1String("message")).toString();
  } else {
    r.ok = true;
    r.result = frame.value(QLatin1String("result"));
  }
  p.done(r);
}

void ControlClient::Call(const QString& method, const QJsonObject& params, Reply done) {
  if (state_ == State::kDisconnected) {
    done({false, {}, QStringLiteral("disconnected"), QStringLiteral("not connected to udmd: ") + detail_});
    return;
  }
  const qint64 id = next_id_++;
  QJsonObject frame{{QStringLiteral("id"), id}, {QStringLiteral("method"), method}};
  if (!params.isEmpty()) frame.insert(QStringLiteral("params"), params);
  pending_.push_back({id, std::move(done)});
  if (calls_.IsOpen()) {
    calls_.Send(frame);
  } else {
    outbox_.push_back(frame);
  }
}

}  // namespace udm::gui
