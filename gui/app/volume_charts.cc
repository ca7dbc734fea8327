// VolumeCharts: QtCharts plots fed from the VolumeHistory ring.
#include "volume_charts.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QGridLayout>
#include <QLineSeries>
#include <QValueAxis>

#include <cmath>

#include "barrier_model.h"
#include "snapshot.h"
#include "volume_history.h"

namespace udm::gui {

namespace {

using Field = float HistoryPoint::*;

// 1, 2, 5 x 10^n at or above `v`: an axis top that does not jitter with
// every sample.
double NiceCeil(double v) {
  if (v <= 1) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

QChartView* ViewOf(QChart* chart) {
  auto* view = new QChartView(chart);
  view->setRenderHint(QPainter::Antialiasing, false);
  view->setMinimumSize(260, 170);
  return view;
}

QChart* NewChart(const QString& title) {
  auto* chart = new QChart;
  chart->setTitle(title);
  chart->setAnimationOptions(QChart::NoAnimation);
  chart->legend()->setAlignment(Qt::AlignBottom);
  chart->setMargins(QMargins(4, 4, 4, 4));
  QFont f = chart->titleFont();
  f.setBold(true);
  chart->setTitleFont(f);
  return chart;
}

}  // namespace

VolumeCharts::VolumeCharts(QWidget* parent) : QWidget(parent) {
  depth_ = MakePlot(tr("Queue depth"), tr("requests"), {tr("in-flight"), tr("deferred")});
  latency_ = MakePlot(tr("Barrier latency"), tr("ms"), {tr("p50"), tr("p99"), tr("max")});
  iops_ = MakePlot(tr("IOPS"), tr("requests/s"), {tr("read"), tr("write")});
  mbs_ = MakePlot(tr("Throughput"), tr("MB/s"), {tr("read"), tr("write")});

  histogram_ = NewChart(tr("Latency distribution"));
  auto* bars = new QBarSeries;
  histogram_set_ = new QBarSet(tr("barriers"));
  histogram_set_->append({0, 0, 0, 0});
  bars->append(histogram_set_);
  histogram_->addSeries(bars);
  histogram_x_ = new QBarCategoryAxis;
  histogram_x_->append({QStringLiteral("≤p50"), QStringLiteral("≤p90"), QStringLiteral("≤p99"),
                        QStringLiteral("≤max")});
  histogram_y_ = new QValueAxis;
  histogram_y_->setLabelFormat(QStringLiteral("%d"));
  histogram_->addAxis(histogram_x_, Qt::AlignBottom);
  histogram_->addAxis(histogram_y_, Qt::AlignLeft);
  bars->attachAxis(histogram_x_);
  bars->attachAxis(histogram_y_);
  histogram_->legend()->hide();

  auto* grid = new QGridLayout(this);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(2);
  grid->addWidget(ViewOf(depth_.chart), 0, 0);
  grid->addWidget(ViewOf(latency_.chart), 0, 1);
  grid->addWidget(ViewOf(histogram_), 0, 2);
  grid->addWidget(ViewOf(iops_.chart), 1, 0);
  grid->addWidget(ViewOf(mbs_.chart), 1, 1, 1, 2);
}

VolumeCharts::Plot VolumeCharts::MakePlot(const QString& title, const QString& y_title,
                                          const QStringList& names) {
  Plot p;
  p.chart = NewChart(title);
  p.x = new QValueAxis;
  p.x->setRange(-kWindowS, 0);
  p.x->setTitleText(tr("seconds ago"));
  p.x->setLabelFormat(QStringLiteral("%d"));
  p.y = new QValueAxis;
  p.y->setTitleText(y_title);
  p.y->setLabelFormat(QStringLiteral("%g"));
  p.y->setRange(0, 1);
  p.chart->addAxis(p.x, Qt::AlignBottom);
  p.chart->addAxis(p.y, Qt::AlignLeft);
  for (const QString& n : names) {
    auto* s = new QLineSeries;
    s->setName(n);
    p.chart->addSeries(s);
    s->attachAxis(p.x);
    s->attachAxis(p.y);
    p.series.push_back(s);
  }
  return p;
}

namespace {

// Rebuilds each series of `plot` from `fields` of the history, decimated
// to at most VolumeCharts::kMaxPoints points.
template <typename PlotT>
void Fill(PlotT& plot, const VolumeHistory* h, std::initializer_list<Field> fields) {
  // The time axis grows with the history until it spans the full window,
  // so a fresh dashboard does not squeeze its data into the right edge.
  const double span = h != nullptr && h->size() > 1 ? h->latest().t_s - h->at(0).t_s : 0;
  const double window = std::min(VolumeCharts::kWindowS, std::max(10.0, NiceCeil(span)));
  if (plot.x->min() != -window) {
    plot.x->setRange(-window, 0);
    // Ticks on round seconds: the window is 10, 20, 50, 100 or 180 s.
    plot.x->setTickCount(window == VolumeCharts::kWindowS ? 7 : 6);
  }
  double top = 0;
  int i = 0;
  for (Field f : fields) {
    QList<QPointF> points;
    if (h != nullptr && h->size() > 0) {
      const double now = h->latest().t_s;
      const int step = std::max(1, h->size() / VolumeCharts::kMaxPoints);
      points.reserve(h->size() / step + 1);
      // Walk back from the newest point so it is always drawn.
      for (int k = h->size() - 1; k >= 0; k -= step) {
        const HistoryPoint& pt = h->at(k);
        if (now - pt.t_s > window) break;
        points.push_back(QPointF(pt.t_s - now, pt.*f));
        top = std::max(top, static_cast<double>(pt.*f));
      }
      std::reverse(points.begin(), points.end());
    }
    plot.series[i++]->replace(points);
  }
  plot.y->setRange(0, NiceCeil(top * 1.1));
}

}  // namespace

void VolumeCharts::Update(const VolumeHistory* history, const VolumeSample* sample) {
  Fill(depth_, history, {&HistoryPoint::in_flight, &HistoryPoint::deferred});
  Fill(latency_, history, {&HistoryPoint::p50_ms, &HistoryPoint::p99_ms, &HistoryPoint::max_ms});
  Fill(iops_, history, {&HistoryPoint::read_iops, &HistoryPoint::write_iops});
  Fill(mbs_, history, {&HistoryPoint::read_mbs, &HistoryPoint::write_mbs});
  UpdateHistogram(sample);
}

void VolumeCharts::UpdateHistogram(const VolumeSample* sample) {
  // The daemon keeps a log-linear histogram and reports its percentiles;
  // the bars are the share of barriers in each percentile band, labelled
  // with the band's latency range.
  const LatencySample l = sample ? sample->latency : LatencySample{};
  const double n = static_cast<double>(l.count);
  const QList<qreal> values{n * 0.5, n * 0.4, n * 0.09, n * 0.01};
  for (int i = 0; i < 4; ++i) {
    if (histogram_set_->at(i) != values[i]) histogram_set_->replace(i, values[i]);
  }
  // The bands' latencies go in the axis title: category labels must stay
  // short and distinct.
  histogram_x_->setTitleText(QStringLiteral("p50 %1 · p90 %2 · p99 %3 · max %4")
                                 .arg(HumanMicros(l.p50_us), HumanMicros(l.p90_us),
                                      HumanMicros(l.p99_us), HumanMicros(l.max_us)));
  histogram_y_->setRange(0, NiceCeil(n * 0.55));
  histogram_y_->setTickCount(n * 0.55 >= 4 ? 5 : 2);
  histogram_->setTitle(tr("Latency distribution (%1)").arg(l.count));
}

}  // namespace udm::gui
