// Socket discovery for the dashboard; mirrors daemon/control/client.cc so
// the GUI and the CLI always talk to the same daemon.
#include "socket_path.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <QFile>

namespace udm::gui {

namespace {

QString HomeDir() {
  QString home = qEnvironmentVariable("HOME");
  if (!home.isEmpty()) return home;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_dir != nullptr) {
    return QString::fromLocal8Bit(pw->pw_dir);
  }
  return QStringLiteral("/");
}

}  // namespace

QString ResolveSocketPath(const QString& explicit_path) {
  if (!explicit_path.isEmpty()) return explicit_path;
  QString env = qEnvironmentVariable("UDM_SOCKET");
  if (!env.isEmpty()) return env;
  QString xdg = qEnvironmentVariable("XDG_STATE_HOME");
  if (xdg.startsWith(QLatin1Char('/'))) return xdg + QStringLiteral("/udm/udm.sock");
  return HomeDir() + QStringLiteral("/.local/state/udm/udm.sock");
}

QString CheckSocketFile(const QString& path) {
  struct stat st{};
  if (::stat(QFile::encodeName(path).constData(), &st) != 0) {
    if (errno == ENOENT) return QStringLiteral("%1 does not exist (is udmd running?)").arg(path);
    return QStringLiteral("cannot stat %1: %2").arg(path, QString::fromLocal8Bit(strerror(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) return QStringLiteral("%1 is not a socket").arg(path);
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    return QStringLiteral("refusing %1: owned by uid %2, not by you or root").arg(path).arg(st.st_uid);
  }
  return {};
}

}  // namespace udm::gui
