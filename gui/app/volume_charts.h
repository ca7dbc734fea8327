// VolumeCharts: the live charts of one volume: queue depth (in-flight,
// deferred), barrier latency percentiles over time, a latency histogram
// and read/write throughput. Each series is redrawn from the volume's
// bounded history with QXYSeries::replace(); animations are off.
#pragma once

#include <QWidget>

QT_BEGIN_NAMESPACE
class QBarSet;
class QBarCategoryAxis;
class QChart;
class QLineSeries;
class QValueAxis;
QT_END_NAMESPACE

namespace udm::gui {

class VolumeHistory;
struct VolumeSample;

class VolumeCharts : public QWidget {
  Q_OBJECT

 public:
  // Seconds of history on the time axes.
  static constexpr double kWindowS = 180;
  // At most this many points per series on screen (older history is
  // decimated, not dropped).
  static constexpr int kMaxPoints = 600;

  explicit VolumeCharts(QWidget* parent = nullptr);
  // Redraws from `history` and `sample` (null clears).
  void Update(const VolumeHistory* history, const VolumeSample* sample);

 private:
  struct Plot {
    QChart* chart = nullptr;
    QValueAxis* x = nullptr;
    QValueAxis* y = nullptr;
    QList<QLineSeries*> series;
  };
  Plot MakePlot(const QString& title, const QString& y_title, const QStringList& names);
  void UpdateHistogram(const VolumeSample* sample);

  Plot depth_, latency_, iops_, mbs_;
  QChart* histogram_ = nullptr;
  QBarSet* histogram_set_ = nullptr;
  QBarCategoryAxis* histogram_x_ = nullptr;
  QValueAxis* histogram_y_ = nullptr;
};

}  // namespace udm::gui
