// FakeDaemon: line splitting, request recording and canned answers.
#include "fake_daemon.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>

namespace udm::gui::test {

namespace {

QByteArray Line(const QJsonObject& o) {
  return QJsonDocument(o).toJson(QJsonDocument::Compact) + '\n';
}

}  // namespace

FakeDaemon::FakeDaemon(QString path) : path_(std::move(path)) {
  connect(&server_, &QLocalServer::newConnection, this, &FakeDaemon::OnConnection);
}

FakeDaemon::~FakeDaemon() { Stop(); }

bool FakeDaemon::Listen() {
  QFile::remove(path_);
  return server_.listen(path_);
}

void FakeDaemon::Stop() {
  server_.close();
  QList<QLocalSocket*> sockets;
  sockets.swap(sockets_);
  watchers_.clear();
  for (QLocalSocket* s : sockets) {
    s->disconnect(this);
    s->abort();
    s->deleteLater();
  }
  QFile::remove(path_);
}

void FakeDaemon::SendToWatchers(const QByteArray& bytes) {
  for (QLocalSocket* s : watchers_) {
    s->write(bytes);
    s->flush();
  }
}

void FakeDaemon::FailMethod(const QString& method, const QString& code, const QString& message) {
  failures_.insert(method, {{QStringLiteral("code"), code}, {QStringLiteral("message"), message}});
}

void FakeDaemon::OnConnection() {
  while (QLocalSocket* s = server_.nextPendingConnection()) {
    sockets_.push_back(s);
    connect(s, &QLocalSocket::readyRead, this, [this, s] {
      while (s->canReadLine()) OnLine(s, s->readLine());
    });
  }
}

void FakeDaemon::OnLine(QLocalSocket* s, const QByteArray& line) {
  const QJsonObject req = QJsonDocument::fromJson(line).object();
  const QJsonValue id = req.value(QLatin1String("id"));
  const QString method = req.value(QLatin1String("method")).toString();
  if (method == QLatin1String("watch")) {
    ++watch_requests_;
    watchers_.push_back(s);
    s->write(Line({{QStringLiteral("id"), id},
                   {QStringLiteral("result"), QJsonObject{{QStringLiteral("watching"), true}}}}));
    return;
  }
  requests_.push_back(req);
  if (auto it = failures_.constFind(method); it != failures_.constEnd()) {
    s->write(Line({{QStringLiteral("id"), id}, {QStringLiteral("error"), *it}}));
    return;
  }
  s->write(Line({{QStringLiteral("id"), id}, {QStringLiteral("result"), QJsonObject{}}}));
}

QByteArray SnapshotLine(qint64 time_ms, const QList<QJsonObject>& volumes) {
  QJsonArray vols;
  for (const QJsonObject& v : volumes) vols.append(v);
  return Line({{QStringLiteral("id"), 1},
               {QStringLiteral("snapshot"),
                QJsonObject{{QStringLiteral("time_ms"), time_ms}, {QStringLiteral("volumes"), vols}}}});
}

QJsonObject VolumeJson(const QString& name, const QString& state, qint64 writes,
                       qint64 write_bytes, qint64 in_flight, qint64 deferred) {
  return {{QStringLiteral("name"), name},
          {QStringLiteral("state"), state},
          {QStringLiteral("barriers"), QStringLiteral("flush")},
          {QStringLiteral("live_table"), true},
          {QStringLiteral("inactive_table"), false},
          {QStringLiteral("sectors"), 2048},
          {QStringLiteral("reads"), 0},
          {QStringLiteral("writes"), writes},
          {QStringLiteral("read_bytes"), 0},
          {QStringLiteral("write_bytes"), write_bytes},
          {QStringLiteral("in_flight"), in_flight},
          {QStringLiteral("deferred"), deferred},
          {QStringLiteral("barrier_latency_us"),
           QJsonObject{{QStringLiteral("count"), 0}, {QStringLiteral("p50"), 0},
                       {QStringLiteral("p90"), 0}, {QStringLiteral("p99"), 0},
                       {QStringLiteral("max"), 0}}},
          {QStringLiteral("inflight_barriers"), QJsonArray{}},
          {QStringLiteral("status"), QJsonArray{QStringLiteral("0 2048 linear")}}};
}

}  // namespace udm::gui::test
