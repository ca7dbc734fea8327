// Where the dashboard finds udmd's control socket, and the ownership check
// udmsetup makes before trusting a socket file.
#pragma once

#include <QString>

namespace udm::gui {

// `explicit_path` if non-empty, else $UDM_SOCKET, else
// $XDG_STATE_HOME/udm/udm.sock (when absolute), else
// $HOME/.local/state/udm/udm.sock: the same rule as udmsetup.
QString ResolveSocketPath(const QString& explicit_path);

// Empty when `path` is a socket owned by the caller or root; else a message
// naming what is wrong (missing, not a socket, someone else's).
QString CheckSocketFile(const QString& path);

}  // namespace udm::gui
