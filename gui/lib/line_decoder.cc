// LineDecoder: newline framing with a bounded buffer, JSON via QJsonDocument.
#include "line_decoder.h"

#include <QJsonDocument>
#include <QJsonParseError>

namespace udm::gui {

void LineDecoder::Append(const QByteArray& bytes) {
  // Compact lazily so a stream of small lines does not shift the buffer
  // once per line.
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.remove(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

void LineDecoder::Reset() {
  buf_.clear();
  pos_ = 0;
  scanned_ = 0;
  discarding_ = false;
}

std::optional<Frame> LineDecoder::Next() {
  for (;;) {
    const qsizetype nl = buf_.indexOf('\n', pos_ + scanned_);
    if (nl < 0) {
      scanned_ = buf_.size() - pos_;
      if (scanned_ > max_line_) {
        // Keep no more than the bound: drop what we have and skip to the
        // end of this line when it comes.
        const bool first = !discarding_;
        discarding_ = true;
        buf_.clear();
        pos_ = 0;
        scanned_ = 0;
        if (first) {
          return Frame{{}, QStringLiteral("frame longer than %1 bytes dropped").arg(max_line_)};
        }
      }
      return std::nullopt;
    }
    const qsizetype len = nl - pos_;
    const qsizetype start = pos_;
    pos_ = nl + 1;
    scanned_ = 0;
    if (discarding_) {
      discarding_ = false;
      continue;
    }
    if (len > max_line_) {
      return Frame{{}, QStringLiteral("frame longer than %1 bytes dropped").arg(max_line_)};
    }
    QByteArray line = buf_.mid(start, len);
    if (line.endsWith('\r')) line.chop(1);
    if (line.trimmed().isEmpty()) continue;
    QJsonParseError err{};
    QJsonDocument doc = QJsonDocument::fromJson(line, &err);
    if (err.error != QJsonParseError::NoError) {
      return Frame{{}, QStringLiteral("malformed frame: %1 at byte %2")
                           .arg(err.errorString())
                           .arg(err.offset)};
    }
    if (!doc.isObject()) return Frame{{}, QStringLiteral("frame is not a JSON object")};
    return Frame{doc.object(), {}};
  }
}

}  // namespace udm::gui
