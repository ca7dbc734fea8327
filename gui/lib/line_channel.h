// LineChannel: one QLocalSocket speaking JSON lines, fully asynchronous.
// Emits each decoded frame, each rejected line, and one closed() per
// connection however it ended. Lives on the GUI thread.
#pragma once

#include <QJsonObject>
#include <QLocalSocket>
#include <QObject>

#include "line_decoder.h"

namespace udm::gui {

class LineChannel : public QObject {
  Q_OBJECT

 public:
  explicit LineChannel(QObject* parent = nullptr);
  // Silent: the socket's own teardown must not reach a half-destroyed
  // channel or its owner.
  ~LineChannel() override;

  // Starts connecting; opened() or closed() follows.
  void Open(const QString& path);
  // Drops the connection without emitting closed().
  void Close();
  bool IsOpen() const { return open_; }
  // Queues one frame; a no-op when not open.
  void Send(const QJsonObject& frame);

 signals:
  void opened();
  void frameReceived(const QJsonObject& frame);
  void frameRejected(const QString& why);
  void closed(const QString& why);

 private:
  void OnReadyRead();
  void OnGone(const QString& why);

  QLocalSocket socket_;
  LineDecoder decoder_;
  bool open_ = false;
  bool active_ = false;  // between Open() and closed()/Close()
};

}  // namespace udm::gui
