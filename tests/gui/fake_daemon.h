// FakeDaemon: a QLocalServer that speaks just enough of the control
// protocol for the dashboard's unit tests: it answers `watch`, records every
// request, answers the others with {} (or a configured error), and lets the
// test push raw bytes down the watch connections.
#pragma once

#include <QJsonObject>
#include <QList>
#include <QLocalServer>
#include <QLocalSocket>
#include <QMap>
#include <QObject>

namespace udm::gui::test {

class FakeDaemon : public QObject {
  Q_OBJECT

 public:
  explicit FakeDaemon(QString path);
  ~FakeDaemon() override;

  bool Listen();
  // Closes every connection and stops listening (a daemon that died).
  void Stop();

  // Writes `bytes` as they are to every watching connection.
  void SendToWatchers(const QByteArray& bytes);
  int watchers() const { return static_cast<int>(watchers_.size()); }

  // Requests other than watch, in arrival order.
  const QList<QJsonObject>& requests() const { return requests_; }
  int watch_requests() const { return watch_requests_; }
  // Answers `method` with this error from now on.
  void FailMethod(const QString& method, const QString& code, const QString& message);

 private:
  void OnConnection();
  void OnLine(QLocalSocket* s, const QByteArray& line);

  const QString path_;
  QLocalServer server_;
  QList<QLocalSocket*> sockets_;
  QList<QLocalSocket*> watchers_;
  QList<QJsonObject> requests_;
  int watch_requests_ = 0;
  QMap<QString, QJsonObject> failures_;
};

// A snapshot line as udmd sends it, for `volumes` (objects in the
// protocol's merged Info + Stats form).
QByteArray SnapshotLine(qint64 time_ms, const QList<QJsonObject>& volumes);
// One volume in that form with the given counters.
QJsonObject VolumeJson(const QString& name, const QString& state, qint64 writes,
                       qint64 write_bytes, qint64 in_flight = 0, qint64 deferred = 0);

}  // namespace udm::gui::test
