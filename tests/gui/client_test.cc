// ControlClient and DashboardModel against a fake daemon on a real local
// socket: snapshots flow into the models even when split across writes,
// garbage is rejected without harm, the client reconnects after the daemon
// restarts, and every action sends the request udmsetup would.
#include <gtest/gtest.h>

#include <QDir>
#include <QJsonArray>
#include <QTemporaryDir>
#include <QTest>

#include <optional>

#include "control_client.h"
#include "dashboard_model.h"
#include "fake_daemon.h"

namespace udm::gui::test {
namespace {

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.isValid());
    path_ = dir_.filePath(QStringLiteral("udm.sock"));
    daemon_ = std::make_unique<FakeDaemon>(path_);
    ASSERT_TRUE(daemon_->Listen());
    client_ = std::make_unique<ControlClient>(path_, 100);
    model_ = std::make_unique<DashboardModel>(client_.get());
    client_->Start();
    ASSERT_TRUE(WaitConnected());
  }
  void TearDown() override {
    model_.reset();
    client_.reset();
    daemon_.reset();
  }
  bool WaitConnected() {
    return QTest::qWaitFor([&] {
      return client_->state() == ControlClient::State::kConnected && daemon_->watchers() > 0;
    }, 10'000);
  }
  // Runs an action and waits for its answer.
  CallResult Do(const std::function<void(DashboardModel::Reply)>& action) {
    std::optional<CallResult> got;
    action([&](const CallResult& r) { got = r; });
    EXPECT_TRUE(QTest::qWaitFor([&] { return got.has_value(); }, 10'000));
    return got.value_or(CallResult{});
  }
  // The last recorded request of `method`.
  QJsonObject Last(const QString& method) {
    for (qsizetype i = daemon_->requests().size() - 1; i >= 0; --i) {
      if (daemon_->requests()[i].value(QLatin1String("method")).toString() == method) {
        return daemon_->requests()[i];
      }
    }
    ADD_FAILURE() << "no " << method.toStdString() << " request";
    return {};
  }

  QTemporaryDir dir_;
  QString path_;
  std::unique_ptr<FakeDaemon> daemon_;
  std::unique_ptr<ControlClient> client_;
  std::unique_ptr<DashboardModel> model_;
};

TEST_F(ClientTest, SnapshotsSplitAcrossWritesReachTheModelsAndGarbageIsRejected) {
  const QByteArray first = SnapshotLine(1000, {VolumeJson("a", "ACTIVE", 0, 0),
                                               VolumeJson("b", "SUSPENDED", 0, 0, 0, 4)});
  // Three pieces, each its own write with the event loop run in between.
  for (const QByteArray& piece : {first.left(7), first.mid(7, 40), first.mid(47)}) {
    daemon_->SendToWatchers(piece);
    QTest::qWait(20);
  }
  ASSERT_TRUE(QTest::qWaitFor([&] { return model_->volumes()->rowCount() == 2; }, 5000));
  const int b = model_->volumes()->RowOf(QStringLiteral("b"));
  EXPECT_EQ(model_->volumes()->index(b, VolumeTableModel::kState).data().toString(),
            QStringLiteral("SUSPENDED"));

  daemon_->SendToWatchers("{\"id\": 1, \"snapshot\": [}\nnot json at all\n");
  daemon_->SendToWatchers("{\"id\": 1, \"snapshot\": {\"volumes\": [{\"state\": \"ACTIVE\"}]}}\n");
  daemon_->SendToWatchers(SnapshotLine(1100, {VolumeJson("a", "ACTIVE", 10, 40960)}));
  ASSERT_TRUE(QTest::qWaitFor([&] { return model_->volumes()->rowCount() == 1; }, 5000));
  EXPECT_EQ(client_->rejected_frames(), 3);
  EXPECT_EQ(client_->snapshots(), 2);
  EXPECT_EQ(client_->state(), ControlClient::State::kConnected);
  EXPECT_EQ(model_->volumes()->RatesOf(QStringLiteral("a"))->write_iops, 100.0);
}

TEST_F(ClientTest, ReconnectsByItselfWhenTheDaemonRestarts) {
  daemon_->SendToWatchers(SnapshotLine(1000, {VolumeJson("a", "ACTIVE", 0, 0)}));
  ASSERT_TRUE(QTest::qWaitFor([&] { return model_->volumes()->rowCount() == 1; }, 5000));
  daemon_->Stop();
  ASSERT_TRUE(QTest::qWaitFor([&] { return client_->state() == ControlClient::State::kDisconnected; }, 5000));
  EXPECT_TRUE(client_->detail().contains(QStringLiteral("retrying"))) << client_->detail().toStdString();
  // A request while the daemon is away fails at once instead of hanging.
  CallResult r = Do([&](auto done) { model_->Resume(QStringLiteral("a"), done); });
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, QStringLiteral("disconnected"));
  QTest::qWait(500);  // a few failed attempts: the backoff grows

  daemon_ = std::make_unique<FakeDaemon>(path_);
  ASSERT_TRUE(daemon_->Listen());
  ASSERT_TRUE(WaitConnected());
  EXPECT_EQ(client_->connects(), 2);
  EXPECT_EQ(daemon_->watch_requests(), 1);
  daemon_->SendToWatchers(SnapshotLine(2000, {VolumeJson("a", "ACTIVE", 0, 0), VolumeJson("n", "ACTIVE", 0, 0)}));
  ASSERT_TRUE(QTest::qWaitFor([&] { return model_->volumes()->rowCount() == 2; }, 5000));
}

TEST_F(ClientTest, EachActionSendsTheRequestUdmsetupWould) {
  using Fn = std::function<void(DashboardModel::Reply)>;
  const QString v = QStringLiteral("vol");
  const struct {
    Fn action;
    const char* method;
    QJsonObject params;
  } cases[] = {
      {[&](auto d) { model_->Suspend(v, false, d); }, "suspend",
       {{"name", v}, {"noflush", false}}},
      {[&](auto d) { model_->Suspend(v, true, d); }, "suspend", {{"name", v}, {"noflush", true}}},
      {[&](auto d) { model_->Resume(v, d); }, "resume", {{"name", v}}},
      {[&](auto d) { model_->LoadTable(v, QStringLiteral("0 8 zero\n8 8 zero"), d); }, "load",
       {{"name", v}, {"table", "0 8 zero\n8 8 zero"}}},
      {[&](auto d) { model_->ClearInactive(v, d); }, "clear", {{"name", v}}},
      {[&](auto d) { model_->SendMessage(v, 16, {QStringLiteral("set"), QStringLiteral("x")}, d); },
       "message", {{"name", v}, {"sector", 16}, {"args", QJsonArray{"set", "x"}}}},
  };
  for (const auto& c : cases) {
    CallResult r = Do(c.action);
    EXPECT_TRUE(r.ok) << c.method;
    QJsonObject req = Last(QString::fromLatin1(c.method));
    EXPECT_EQ(req.value(QLatin1String("params")).toObject(), c.params) << c.method;
    EXPECT_TRUE(req.value(QLatin1String("id")).isDouble()) << c.method;
  }
}

TEST_F(ClientTest, ABadTableGetsTheDaemonsErrorVerbatim) {
  daemon_->FailMethod(QStringLiteral("load"), QStringLiteral("invalid_argument"),
                      QStringLiteral("line 1: target type 'bogus' is not registered"));
  CallResult r = Do([&](auto d) { model_->LoadTable(QStringLiteral("v"), QStringLiteral("0 8 bogus"), d); });
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, QStringLiteral("invalid_argument"));
  EXPECT_EQ(r.error_message, QStringLiteral("line 1: target type 'bogus' is not registered"));
  // The connection is still usable afterwards.
  EXPECT_TRUE(Do([&](auto d) { model_->Resume(QStringLiteral("v"), d); }).ok);
}

TEST_F(ClientTest, SelectingAVolumeFetchesItsTablesAndEvents) {
  model_->Select(QStringLiteral("a"));
  daemon_->SendToWatchers(SnapshotLine(1000, {VolumeJson("a", "ACTIVE", 0, 0)}));
  ASSERT_TRUE(QTest::qWaitFor([&] { return daemon_->requests().size() >= 3; }, 5000));
  EXPECT_EQ(Last(QStringLiteral("events")).value(QLatin1String("params")).toObject(),
            (QJsonObject{{"name", "a"}, {"limit", 100}}));
  EXPECT_EQ(Last(QStringLiteral("table")).value(QLatin1String("params")).toObject(),
            (QJsonObject{{"name", "a"}, {"inactive", true}}));
  // Unchanged state: no refetch on the next snapshot.
  const qsizetype before = daemon_->requests().size();
  daemon_->SendToWatchers(SnapshotLine(1100, {VolumeJson("a", "ACTIVE", 1, 4096)}));
  ASSERT_TRUE(QTest::qWaitFor([&] { return client_->snapshots() == 2; }, 5000));
  QTest::qWait(50);
  EXPECT_EQ(daemon_->requests().size(), before);
}

}  // namespace
}  // namespace udm::gui::test
