// The dashboard's frame decoder, snapshot parser and models, fed directly:
// partial and malformed frames, rates from counter deltas, rows updated in
// place, barriers that age in their row.
#include <gtest/gtest.h>

#include <QJsonArray>
#include <QSignalSpy>
#include <QSortFilterProxyModel>

#include "barrier_model.h"
#include "fake_daemon.h"
#include "latency_interval.h"
#include "line_decoder.h"
#include "snapshot.h"
#include "volume_history.h"
#include "volume_table_model.h"

namespace udm::gui::test {
namespace {

Snapshot Parse(const QByteArray& line) {
  LineDecoder d;
  d.Append(line);
  auto f = d.Next();
  EXPECT_TRUE(f && f->ok());
  auto s = ParseSnapshot(f->object.value(QLatin1String("snapshot")).toObject());
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().toStdString());
  return s.value_or(Snapshot{});
}

TEST(LineDecoderTest, AFrameSplitAcrossReadsDecodesOnceComplete) {
  const QByteArray line = SnapshotLine(1000, {VolumeJson("a", "ACTIVE", 5, 20480)});
  LineDecoder d;
  for (qsizetype i = 0; i < line.size() - 1; ++i) {
    d.Append(line.mid(i, 1));
    ASSERT_FALSE(d.Next().has_value()) << "frame decoded before its newline, at byte " << i;
  }
  d.Append(line.right(1));
  auto f = d.Next();
  ASSERT_TRUE(f && f->ok());
  EXPECT_EQ(ParseSnapshot(f->object.value(QLatin1String("snapshot")).toObject())->volumes[0].name,
            QStringLiteral("a"));
  EXPECT_FALSE(d.Next().has_value());
  EXPECT_EQ(d.buffered(), 0);
}

TEST(LineDecoderTest, MalformedFramesAreRejectedAndTheNextLineStillDecodes) {
  LineDecoder d;
  d.Append("{\"id\": 1, \"snap\n[1,2,3]\n\n{\"id\": 2}\r\n{\"id\": 3");
  auto bad = d.Next();
  ASSERT_TRUE(bad.has_value());
  EXPECT_FALSE(bad->ok());
  EXPECT_TRUE(bad->error.startsWith(QStringLiteral("malformed frame"))) << bad->error.toStdString();
  auto array = d.Next();
  ASSERT_TRUE(array.has_value());
  EXPECT_EQ(array->error, QStringLiteral("frame is not a JSON object"));
  auto good = d.Next();  // the empty line is skipped, the \r dropped
  ASSERT_TRUE(good && good->ok());
  EXPECT_EQ(good->object.value(QLatin1String("id")).toInt(), 2);
  EXPECT_FALSE(d.Next().has_value());  // "{"id": 3" waits for its newline
}

TEST(LineDecoderTest, AnOverlongLineIsDroppedWithoutGrowingTheBuffer) {
  LineDecoder d(64);
  d.Append(QByteArray(50, 'x'));
  EXPECT_FALSE(d.Next().has_value());
  d.Append(QByteArray(50, 'x'));
  auto f = d.Next();
  ASSERT_TRUE(f.has_value());
  EXPECT_TRUE(f->error.contains(QStringLiteral("longer than 64"))) << f->error.toStdString();
  d.Append(QByteArray(100, 'y'));  // still the same line: no second error
  EXPECT_FALSE(d.Next().has_value());
  EXPECT_LE(d.buffered(), 128);
  d.Append("zz\n{\"id\": 9}\n");
  auto next = d.Next();
  ASSERT_TRUE(next && next->ok());
  EXPECT_EQ(next->object.value(QLatin1String("id")).toInt(), 9);
}

TEST(SnapshotTest, StructuralErrorsNameTheFieldAndRefuseTheFrame) {
  EXPECT_EQ(ParseSnapshot(QJsonObject{}).error(), QStringLiteral("snapshot: no 'volumes' array"));
  QJsonObject no_name = VolumeJson("a", "ACTIVE", 0, 0);
  no_name.remove(QStringLiteral("name"));
  EXPECT_EQ(ParseSnapshot({{QStringLiteral("volumes"), QJsonArray{no_name}}}).error(),
            QStringLiteral("volume 0: no name"));
  QJsonObject bad_type = VolumeJson("a", "ACTIVE", 0, 0);
  bad_type.insert(QStringLiteral("in_flight"), QStringLiteral("many"));
  EXPECT_EQ(ParseSnapshot({{QStringLiteral("volumes"), QJsonArray{bad_type}}}).error(),
            QStringLiteral("volume 0: field 'in_flight' is not a non-negative number below 2^63"));
  QJsonObject bad_barrier = VolumeJson("a", "ACTIVE", 0, 0);
  bad_barrier.insert(QStringLiteral("inflight_barriers"), QJsonArray{QJsonObject{{QStringLiteral("id"), true}}});
  EXPECT_EQ(ParseSnapshot({{QStringLiteral("volumes"), QJsonArray{bad_barrier}}}).error(),
            QStringLiteral("a inflight_barriers: field 'id' is not a non-negative number below 2^63"));
  QJsonObject huge = VolumeJson("a", "ACTIVE", 0, 0);
  huge.insert(QStringLiteral("sectors"), 1e19);  // past qint64
  EXPECT_EQ(ParseSnapshot({{QStringLiteral("volumes"), QJsonArray{huge}}}).error(),
            QStringLiteral("volume 0: field 'sectors' is not a non-negative number below 2^63"));
}

TEST(VolumeTableModelTest, RatesComeFromCounterDeltasBetweenSnapshots) {
  VolumeTableModel m;
  m.Update(Parse(SnapshotLine(10'000, {VolumeJson("a", "ACTIVE", 100, 409600)})));
  m.Update(Parse(SnapshotLine(10'500, {VolumeJson("a", "ACTIVE", 150, 1'409'600)})));
  const Rates* r = m.RatesOf(QStringLiteral("a"));
  ASSERT_NE(r, nullptr);
  EXPECT_DOUBLE_EQ(r->write_iops, 100.0);  // 50 writes in 0.5 s
  EXPECT_DOUBLE_EQ(r->write_mbs, 2.0);     // 1 MB in 0.5 s
  // A restarted daemon's counters start again: no negative rates.
  m.Update(Parse(SnapshotLine(11'000, {VolumeJson("a", "ACTIVE", 3, 4096)})));
  EXPECT_EQ(*m.RatesOf(QStringLiteral("a")), Rates{});
}

TEST(VolumeTableModelTest, OnlyTheRowThatChangedIsUpdatedInPlace) {
  VolumeTableModel m;
  QList<QJsonObject> vols;
  for (const char* n : {"a", "b", "c"}) vols.push_back(VolumeJson(n, "ACTIVE", 0, 0));
  QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);
  m.Update(Parse(SnapshotLine(1000, vols)));
  EXPECT_EQ(m.rowCount(), 3);
  EXPECT_EQ(inserted.count(), 3);

  QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
  QSignalSpy reset(&m, &QAbstractItemModel::modelReset);
  vols[1] = VolumeJson("b", "SUSPENDED", 0, 0, 0, 7);
  m.Update(Parse(SnapshotLine(1100, vols)));
  ASSERT_EQ(changed.count(), 1);
  const QModelIndex from = changed[0][0].value<QModelIndex>();
  const QModelIndex to = changed[0][1].value<QModelIndex>();
  EXPECT_EQ(from.row(), m.RowOf(QStringLiteral("b")));
  EXPECT_EQ(to.row(), from.row());
  EXPECT_EQ(from.column(), VolumeTableModel::kState);
  EXPECT_EQ(to.column(), VolumeTableModel::kDeferred);
  EXPECT_EQ(m.index(from.row(), VolumeTableModel::kState).data().toString(), QStringLiteral("SUSPENDED"));
  EXPECT_EQ(m.index(from.row(), VolumeTableModel::kDeferred).data().toString(), QStringLiteral("7"));

  // A vanished volume is removed, a new one appended: never a reset.
  QSignalSpy removed(&m, &QAbstractItemModel::rowsRemoved);
  m.Update(Parse(SnapshotLine(1200, {vols[0], vols[2], VolumeJson("d", "ACTIVE", 0, 0)})));
  EXPECT_EQ(removed.count(), 1);
  EXPECT_EQ(reset.count(), 0);
  EXPECT_EQ(m.RowOf(QStringLiteral("b")), -1);
  EXPECT_EQ(m.index(m.RowOf(QStringLiteral("d")), VolumeTableModel::kName).data().toString(),
            QStringLiteral("d"));
}

TEST(VolumeTableModelTest, SortsByRawValuesThroughAProxy) {
  VolumeTableModel m;
  QSortFilterProxyModel proxy;
  proxy.setSourceModel(&m);
  proxy.setSortRole(VolumeTableModel::kSortRole);
  proxy.setDynamicSortFilter(true);
  proxy.sort(VolumeTableModel::kInFlight, Qt::DescendingOrder);
  m.Update(Parse(SnapshotLine(1000, {VolumeJson("a", "ACTIVE", 0, 0, 9), VolumeJson("b", "ACTIVE", 0, 0, 10),
                                     VolumeJson("c", "ACTIVE", 0, 0, 2)})));
  auto first = [&] { return proxy.index(0, VolumeTableModel::kName).data().toString(); };
  EXPECT_EQ(first(), QStringLiteral("b"));  // 10 > 9 as numbers, not as text
  m.Update(Parse(SnapshotLine(1100, {VolumeJson("a", "ACTIVE", 0, 0, 9), VolumeJson("b", "ACTIVE", 0, 0, 10),
                                     VolumeJson("c", "ACTIVE", 0, 0, 200)})));
  EXPECT_EQ(first(), QStringLiteral("c"));
}

TEST(BarrierModelTest, AHeldBarrierKeepsItsRowAndAges) {
  auto with = [](qint64 age_a, bool with_b) {
    QJsonObject v = VolumeJson("top", "ACTIVE", 0, 0, 2, 3);
    QJsonArray b{QJsonObject{{QStringLiteral("id"), 4}, {QStringLiteral("ordered"), false},
                             {QStringLiteral("phase"), QStringLiteral("pre-flush")},
                             {QStringLiteral("age_us"), age_a},
                             {QStringLiteral("waiters"), 2}}};
    if (with_b) {
      b.append(QJsonObject{{QStringLiteral("id"), 5}, {QStringLiteral("ordered"), false},
                           {QStringLiteral("phase"), QStringLiteral("queued")},
                           {QStringLiteral("age_us"), 10},
                           {QStringLiteral("waiters"), 1}});
    }
    v.insert(QStringLiteral("inflight_barriers"), b);
    return v;
  };
  BarrierModel m;
  Snapshot s1 = Parse(SnapshotLine(1000, {with(1500, true)}));
  m.Update(&s1.volumes[0]);
  ASSERT_EQ(m.rowCount(), 2);
  EXPECT_EQ(m.index(0, BarrierModel::kAge).data().toString(), QStringLiteral("1.5 ms"));
  // As the daemon counted them, not estimated from the volume's queue (3).
  EXPECT_EQ(m.index(0, BarrierModel::kWaiters).data().toLongLong(), 2);
  EXPECT_EQ(m.index(1, BarrierModel::kWaiters).data().toLongLong(), 1);

  QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);
  QSignalSpy removed(&m, &QAbstractItemModel::rowsRemoved);
  QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
  Snapshot s2 = Parse(SnapshotLine(3000, {with(2'001'500, false)}));
  m.Update(&s2.volumes[0]);
  ASSERT_EQ(m.rowCount(), 1);
  EXPECT_EQ(inserted.count(), 0);
  EXPECT_EQ(removed.count(), 1);  // barrier 5 finished
  EXPECT_EQ(changed.count(), 1);  // barrier 4 aged in its row
  EXPECT_EQ(m.index(0, BarrierModel::kId).data().toLongLong(), 4);
  EXPECT_EQ(m.index(0, BarrierModel::kAge).data().toString(), QStringLiteral("2.00 s"));
  EXPECT_TRUE(m.index(0, BarrierModel::kAge).data(Qt::ForegroundRole).isValid());
  m.Update(nullptr);
  EXPECT_EQ(m.rowCount(), 0);
}

QJsonObject WithHistogram(QJsonObject v, const QList<LatencyBucket>& buckets) {
  QJsonArray h;
  for (const LatencyBucket& b : buckets) {
    h.append(QJsonObject{{QStringLiteral("le_us"), b.le_us}, {QStringLiteral("count"), b.count}});
  }
  v.insert(QStringLiteral("barrier_latency_histogram"), h);
  return v;
}

TEST(SnapshotTest, HistogramBucketsAreDecodedAndABadOneRefusesTheFrame) {
  Snapshot s = Parse(SnapshotLine(
      1000, {WithHistogram(VolumeJson("a", "ACTIVE", 0, 0), {{900, 2}, {80, 5}})}));
  ASSERT_EQ(s.volumes.size(), 1);
  EXPECT_EQ(s.volumes[0].latency_histogram, (QList<LatencyBucket>{{80, 5}, {900, 2}}));
  EXPECT_TRUE(Parse(SnapshotLine(1000, {VolumeJson("b", "ACTIVE", 0, 0)})).volumes[0]
                  .latency_histogram.isEmpty());  // an older daemon sends none

  QJsonObject bad = VolumeJson("a", "ACTIVE", 0, 0);
  bad.insert(QStringLiteral("barrier_latency_histogram"),
             QJsonArray{QJsonObject{{QStringLiteral("le_us"), QStringLiteral("80")},
                                    {QStringLiteral("count"), 1}}});
  auto r = ParseSnapshot(QJsonObject{{QStringLiteral("time_ms"), 1},
                                     {QStringLiteral("volumes"), QJsonArray{bad}}});
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error().contains(QStringLiteral("le_us"))) << r.error().toStdString();
}

TEST(LatencyIntervalTest, PercentilesComeFromTheBucketDeltas) {
  const QList<LatencyBucket> before{{100, 1000}, {2000, 10}};
  // 100 new latencies in the interval: 98 at <=100 us, one <=2 ms, one <=9 ms.
  const QList<LatencyBucket> after{{100, 1098}, {2000, 11}, {9000, 1}};
  EXPECT_EQ(LatencyBetween(before, after), (IntervalLatency{100, 100, 2000, 9000}));
  // Lifetime counts would put p99 at 100 us; this interval is slower.
  EXPECT_EQ(LatencyBetween(before, before), IntervalLatency{});
  EXPECT_EQ(LatencyBetween({}, {{50, 4}}), (IntervalLatency{4, 50, 50, 50}));
}

TEST(LatencyIntervalTest, CountsThatWentBackwardsMeanTheyBeganAgain) {
  const QList<LatencyBucket> before{{100, 1000}, {2000, 10}};
  EXPECT_EQ(LatencyBetween(before, {{100, 3}}), (IntervalLatency{3, 100, 100, 100}));
  EXPECT_EQ(LatencyBetween(before, {{2000, 20}}), (IntervalLatency{20, 2000, 2000, 2000}));
}

TEST(LatencyIntervalTest, CoarseningMergesNeighboursAndKeepsTrueBounds) {
  QList<LatencyBucket> b;
  for (qint64 i = 1; i <= 5; ++i) b.push_back({i * 10, i});
  EXPECT_EQ(CoarsenBuckets(b, 5), b);
  EXPECT_EQ(CoarsenBuckets(b, 3), (QList<LatencyBucket>{{20, 3}, {40, 7}, {50, 5}}));
  EXPECT_EQ(CoarsenBuckets(b, 1), (QList<LatencyBucket>{{50, 15}}));
}

TEST(VolumeHistoryTest, LatencyPointsAreOfTheIntervalNotTheLifetime) {
  HistoryStore store;
  auto add = [&](qint64 t, const QList<LatencyBucket>& buckets) {
    store.Add(Parse(SnapshotLine(t, {WithHistogram(VolumeJson("a", "ACTIVE", 0, 0), buckets)})),
              [](const QString&) -> const Rates* { return nullptr; });
    return store.Find(QStringLiteral("a"))->latest();
  };
  EXPECT_EQ(add(1000, {{100, 50}}).p99_ms, 0.0f);  // no interval yet
  const HistoryPoint p = add(1100, {{100, 50}, {4000, 2}});
  EXPECT_FLOAT_EQ(p.p50_ms, 4.0f);
  EXPECT_FLOAT_EQ(p.max_ms, 4.0f);
  EXPECT_EQ(add(1200, {{100, 50}, {4000, 2}}).p50_ms, 0.0f);  // nothing completed
}

TEST(VolumeHistoryTest, TheRingKeepsTheNewestPointsAndNoMore) {
  VolumeHistory h;
  for (int i = 0; i < VolumeHistory::kCapacity + 250; ++i) {
    HistoryPoint p;
    p.t_s = i;
    h.Add(p);
  }
  EXPECT_EQ(h.size(), VolumeHistory::kCapacity);
  EXPECT_EQ(h.at(0).t_s, 250);
  EXPECT_EQ(h.latest().t_s, VolumeHistory::kCapacity + 249);
}

}  // namespace
}  // namespace udm::gui::test
