// udm-dashboard: command line, the client/model/window wiring, and the
// --screenshot/--dump-models exit path used by tests and bug reports.
#include <QApplication>
#include <QCommandLineParser>
#include <QFile>
#include <QJsonDocument>
#include <QPixmap>
#include <QTimer>

#include <cstdio>

#include "control_client.h"
#include "dashboard_model.h"
#include "main_window.h"
#include "socket_path.h"

namespace {

struct Options {
  QString socket;
  int interval_ms = 100;
  QString select;
  QString screenshot;
  double after_s = 2;
  QString dump_models;
};

// Parses the command line; prints the problem and returns nullopt when an
// argument is bad.
std::optional<Options> ParseOptions(const QApplication& app) {
  QCommandLineParser p;
  p.setApplicationDescription(
      QStringLiteral("Live view of udmd's volumes: queue depth, barrier latency, in-flight "
                     "barriers and suspend state, over the control socket."));
  p.addHelpOption();
  const QCommandLineOption socket(QStringLiteral("socket"),
                                  QStringLiteral("udmd's control socket (default: $UDM_SOCKET, "
                                                 "else <state-dir>/udm.sock as udmsetup uses)"),
                                  QStringLiteral("PATH"));
  const QCommandLineOption interval(QStringLiteral("interval-ms"),
                                    QStringLiteral("watch interval, 50-60000 ms (default 100)"),
                                    QStringLiteral("MS"), QStringLiteral("100"));
  const QCommandLineOption select(QStringLiteral("select"), QStringLiteral("open this volume"),
                                  QStringLiteral("NAME"));
  const QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                      QStringLiteral("save the window as a PNG and exit"),
                                      QStringLiteral("FILE"));
  const QCommandLineOption after(QStringLiteral("after"),
                                 QStringLiteral("seconds before --screenshot (default 2)"),
                                 QStringLiteral("SECONDS"), QStringLiteral("2"));
  const QCommandLineOption dump(QStringLiteral("dump-models"),
                                QStringLiteral("with --screenshot: also write the models as JSON"),
                                QStringLiteral("FILE"));
  p.addOptions({socket, interval, select, screenshot, after, dump});
  p.process(app);
  if (!p.positionalArguments().isEmpty()) {
    std::fprintf(stderr, "udm-dashboard: unexpected argument '%s'\n",
                 qPrintable(p.positionalArguments().front()));
    return std::nullopt;
  }
  Options o;
  o.socket = udm::gui::ResolveSocketPath(p.value(socket));
  bool ok = false;
  o.interval_ms = p.value(interval).toInt(&ok);
  if (!ok || o.interval_ms < 50 || o.interval_ms > 60000) {
    std::fprintf(stderr, "udm-dashboard: --interval-ms: '%s' is not a number from 50 to 60000\n",
                 qPrintable(p.value(interval)));
    return std::nullopt;
  }
  o.after_s = p.value(after).toDouble(&ok);
  if (!ok || o.after_s < 0 || o.after_s > 3600) {
    std::fprintf(stderr, "udm-dashboard: --after: '%s' is not a number of seconds from 0 to 3600\n",
                 qPrintable(p.value(after)));
    return std::nullopt;
  }
  o.select = p.value(select);
  o.screenshot = p.value(screenshot);
  o.dump_models = p.value(dump);
  if (!o.dump_models.isEmpty() && o.screenshot.isEmpty()) {
    std::fprintf(stderr, "udm-dashboard: --dump-models needs --screenshot\n");
    return std::nullopt;
  }
  return o;
}

// Writes the models and the window image; the process exit status.
int CaptureAndExit(const Options& o, const udm::gui::DashboardModel& model, QWidget& window) {
  if (!o.dump_models.isEmpty()) {
    QFile f(o.dump_models);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) ||
        f.write(QJsonDocument(model.ToJson()).toJson()) < 0) {
      std::fprintf(stderr, "udm-dashboard: cannot write %s: %s\n", qPrintable(o.dump_models),
                   qPrintable(f.errorString()));
      return 1;
    }
  }
  if (!window.grab().save(o.screenshot, "PNG")) {
    std::fprintf(stderr, "udm-dashboard: cannot write the screenshot to %s\n",
                 qPrintable(o.screenshot));
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("udm-dashboard"));
  QApplication::setApplicationVersion(QStringLiteral("0.1.0"));
  QApplication::setDesktopFileName(QStringLiteral("udm-dashboard"));
  std::optional<Options> o = ParseOptions(app);
  if (!o) return 2;

  udm::gui::ControlClient client(o->socket, o->interval_ms);
  QObject::connect(&client, &udm::gui::ControlClient::frameRejected, &client,
                   [](const QString& why) { qWarning("udm-dashboard: frame rejected: %s", qPrintable(why)); });
  udm::gui::DashboardModel model(&client);
  udm::gui::MainWindow window(&model);
  if (!o->select.isEmpty()) model.Select(o->select);
  window.show();
  client.Start();

  if (!o->screenshot.isEmpty()) {
    QTimer::singleShot(static_cast<int>(o->after_s * 1000), &app, [&] {
      QApplication::exit(CaptureAndExit(*o, model, window));
    });
  }
  return QApplication::exec();
}
