// StateBadgeDelegate: draws a volume's suspend state as a coloured badge
// (green ACTIVE, amber SUSPENDING, red SUSPENDED) so a suspended volume
// stands out in a list of a hundred.
#pragma once

#include <QStyledItemDelegate>

namespace udm::gui {

class StateBadgeDelegate : public QStyledItemDelegate {
 public:
  using QStyledItemDelegate::QStyledItemDelegate;
  void paint(QPainter* painter, const QStyleOptionViewItem& option,
             const QModelIndex& index) const override;
};

// The badge colour for a protocol state name.
QColor StateColor(const QString& state);

}  // namespace udm::gui
