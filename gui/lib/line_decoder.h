// LineDecoder: turns the bytes of a JSON-lines stream, as they arrive in
// arbitrary pieces, into whole frames. A malformed or overlong line becomes
// a rejected frame naming the problem; decoding continues with the next line.
#pragma once

#include <optional>

#include <QByteArray>
#include <QJsonObject>
#include <QString>

namespace udm::gui {

struct Frame {
  QJsonObject object;  // valid when error is empty
  QString error;       // why the line was rejected
  bool ok() const { return error.isEmpty(); }
};

class LineDecoder {
 public:
  // Responses can be far larger than requests (a snapshot of many
  // volumes); the same bound as udmsetup's client.
  static constexpr qsizetype kDefaultMaxLine = qsizetype{64} << 20;

  explicit LineDecoder(qsizetype max_line = kDefaultMaxLine) : max_line_(max_line) {}

  void Append(const QByteArray& bytes);
  // The next complete frame, or nullopt when only part of a line is buffered.
  std::optional<Frame> Next();
  void Reset();
  qsizetype buffered() const { return buf_.size() - pos_; }

 private:
  const qsizetype max_line_;
  QByteArray buf_;
  qsizetype pos_ = 0;         // start of the first unconsumed byte
  qsizetype scanned_ = 0;     // bytes after pos_ known to hold no '\n'
  bool discarding_ = false;   // skipping the rest of an overlong line
};

}  // namespace udm::gui
