// LockFile: an exclusive flock on `<path>`, held for the object's life, so
// two udmd processes never share one state directory. The holder's pid is
// written into the file for the error message of whoever comes second.
#pragma once

#include <memory>
#include <string>

#include "udm/error.h"

namespace udm::daemon {

class LockFile {
 public:
  // Creates `path` if needed (0600) and locks it without waiting. Fails
  // with kBusy naming `what` and the holder's pid when another open file
  // description holds the lock (another process, or this one).
  static Result<std::unique_ptr<LockFile>> Acquire(const std::string& path,
                                                   const std::string& what);
  ~LockFile();  // releases the lock; the file stays (unlinking would race)

  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

 private:
  explicit LockFile(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace udm::daemon
