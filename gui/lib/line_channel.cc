// LineChannel: socket signals -> decoder -> frame signals.
#include "line_channel.h"

#include <QJsonDocument>

namespace udm::gui {

LineChannel::LineChannel(QObject* parent) : QObject(parent) {
  connect(&socket_, &QLocalSocket::connected, this, [this] {
    open_ = true;
    emit opened();
  });
  connect(&socket_, &QLocalSocket::readyRead, this, &LineChannel::OnReadyRead);
  connect(&socket_, &QLocalSocket::errorOccurred, this,
          [this](QLocalSocket::LocalSocketError) { OnGone(socket_.errorString()); });
  connect(&socket_, &QLocalSocket::disconnected, this,
          [this] { OnGone(QStringLiteral("the daemon closed the connection")); });
}

LineChannel::~LineChannel() {
  active_ = false;
  socket_.disconnect(this);
  socket_.abort();
}

void LineChannel::Open(const QString& path) {
  Close();
  active_ = true;
  socket_.connectToServer(path);
}

void LineChannel::Close() {
  active_ = false;
  open_ = false;
  socket_.abort();
  decoder_.Reset();
}

void LineChannel::Send(const QJsonObject& frame) {
  if (!open_) return;
  QByteArray line = QJsonDocument(frame).toJson(QJsonDocument::Compact);
  line.append('\n');
  socket_.write(line);
}

void LineChannel::OnReadyRead() {
  decoder_.Append(socket_.readAll());
  while (active_) {
    std::optional<Frame> f = decoder_.Next();
    if (!f) break;
    if (f->ok()) {
      emit frameReceived(f->object);
    } else {
      emit frameRejected(f->error);
    }
  }
}

void LineChannel::OnGone(const QString& why) {
  if (!active_) return;  // already reported, or closed on purpose
  active_ = false;
  open_ = false;
  decoder_.Reset();
  emit closed(why);
}

}  // namespace udm::gui
