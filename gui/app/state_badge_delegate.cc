// StateBadgeDelegate: a rounded rectangle with the state name in it.
#include "state_badge_delegate.h"

#include <QPainter>

namespace udm::gui {

QColor StateColor(const QString& state) {
  if (state == QLatin1String("ACTIVE")) return QColor(0x2e, 0x7d, 0x32);
  if (state == QLatin1String("SUSPENDING")) return QColor(0xef, 0x8f, 0x00);
  if (state == QLatin1String("SUSPENDED")) return QColor(0xc6, 0x28, 0x28);
  return QColor(0x75, 0x75, 0x75);
}

void StateBadgeDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option,
                               const QModelIndex& index) const {
  QStyleOptionViewItem base = option;
  initStyleOption(&base, index);
  const QString state = base.text;
  base.text.clear();
  QStyledItemDelegate::paint(painter, base, index);  // selection background only
  painter->save();
  painter->setRenderHint(QPainter::Antialiasing);
  QFont f = option.font;
  f.setBold(true);
  f.setPointSizeF(f.pointSizeF() * 0.85);
  painter->setFont(f);
  const int w = QFontMetrics(f).horizontalAdvance(state) + 12;
  QRect badge(option.rect.left() + 4, option.rect.top() + 3, w, option.rect.height() - 6);
  painter->setPen(Qt::NoPen);
  painter->setBrush(StateColor(state));
  painter->drawRoundedRect(badge, 4, 4);
  painter->setPen(Qt::white);
  painter->drawText(badge, Qt::AlignCenter, state);
  painter->restore();
}

}  // namespace udm::gui
