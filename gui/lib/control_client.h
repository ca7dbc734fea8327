// ControlClient: the dashboard's side of the control protocol. Owns two
// connections to udmd (a `watch` stream and a request/response channel),
// turns snapshots into value structs, and reconnects by itself with
// exponential backoff when the daemon goes away. GUI thread only; nothing
// here blocks.
#pragma once

#include <deque>
#include <functional>

#include <QJsonObject>
#include <QJsonValue>
#include <QObject>
#include <QTimer>

#include "line_channel.h"
#include "snapshot.h"

namespace udm::gui {

struct CallResult {
  bool ok = false;
  QJsonValue result;     // when ok
  QString error_code;    // protocol code ("invalid_argument", ...) or "disconnected"
  QString error_message; // the daemon's message, shown to the user as is
};

class ControlClient : public QObject {
  Q_OBJECT

 public:
  enum class State { kDisconnected, kConnecting, kConnected };
  using Reply = std::function<void(const CallResult&)>;

  static constexpr int kFirstRetryMs = 100;
  static constexpr int kMaxRetryMs = 3200;

  ControlClient(QString socket_path, int interval_ms, QObject* parent = nullptr);

  // Connects (and keeps reconnecting) until destroyed.
  void Start();

  // Sends `method` with `params`; `done` runs on the GUI thread exactly
  // once, with the result, the daemon's error, or a "disconnected" error
  // when the connection drops first or there is none.
  void Call(const QString& method, const QJsonObject& params, Reply done);

  State state() const { return state_; }
  // What the state means for a person: the socket, the last error, the
  // next retry.
  QString detail() const { return detail_; }
  const QString& socket_path() const { return path_; }
  int connects() const { return connects_; }
  qint64 snapshots() const { return snapshots_; }
  qint64 rejected_frames() const { return rejected_; }

 signals:
  void snapshotReceived(const udm::gui::Snapshot& snapshot);
  void stateChanged();
  void frameRejected(const QString& why);

 private:
  struct Pending {
    qint64 id;
    Reply done;
  };

  void Connect();
  void Fail(const QString& why);
  void SetState(State s, QString detail);
  void OnWatchFrame(const QJsonObject& frame);
  void OnCallFrame(const QJsonObject& frame);
  void Reject(const QString& why);
  void FailPending(const QString& why);

  const QString path_;
  const int interval_ms_;
  LineChannel watch_;
  LineChannel calls_;
  QTimer retry_;
  int retry_ms_ = kFirstRetryMs;
  State state_ = State::kDisconnected;
  QString detail_;
  qint64 next_id_ = 1;
  std::deque<Pending> pending_;        // sent, in request order
  std::deque<QJsonObject> outbox_;     // waiting for the call channel to open
  int connects_ = 0;
  qint64 snapshots_ = 0;
  qint64 rejected_ = 0;
};

const char* StateName(ControlClient::State s);

}  // namespace udm::gui
