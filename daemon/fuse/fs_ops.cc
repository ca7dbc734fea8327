// The operations table and its callbacks. Each callback answers its request
// exactly once: directory and attribute requests at once, file I/O from the
// completion of the bios that volume_io.cc submits for it.
#include "fuse/fs_ops.h"

#include <fcntl.h>
#include <linux/fuse.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "fuse/device_io.h"
#include "fuse/fs_state.h"
#include "fuse/volume_io.h"

namespace udm::daemon::volfs {
namespace {

constexpr double kAttrTimeout = 1.0;   // seconds; changes are also pushed (Invalidator)
constexpr double kEntryTimeout = 1.0;
constexpr blksize_t kBlockSize = 4096;
constexpr unsigned kMaxWrite = 1u << 20;
constexpr unsigned kMaxBackground = 128;

FsState& State(fuse_req_t req) { return *static_cast<FsState*>(fuse_req_userdata(req)); }
OpenFile& FileOf(const fuse_file_info* fi) { return *reinterpret_cast<OpenFile*>(fi->fh); }
DirHandle& DirOf(const fuse_file_info* fi) { return *reinterpret_cast<DirHandle*>(fi->fh); }

// --- Attributes -----------------------------------------------------------

struct stat BaseAttr(const FsState& fs) {
  struct stat st{};
  st.st_uid = *fs.options.uid;
  st.st_gid = *fs.options.gid;
  st.st_blksize = kBlockSize;
  st.st_atim = st.st_mtim = st.st_ctim = fs.mount_time;
  return st;
}

// The root may be searched by whoever may use a volume file.
struct stat RootAttr(const FsState& fs) {
  struct stat st = BaseAttr(fs);
  const mode_t m = fs.options.file_mode;
  st.st_ino = FUSE_ROOT_ID;
  st.st_mode = S_IFDIR | 0700 | ((m & 0070) != 0 ? 0050 : 0) | ((m & 0007) != 0 ? 0005 : 0);
  st.st_nlink = 2;
  return st;
}

struct stat VolumeAttr(const FsState& fs, const VolumeHandle& v) {
  struct stat st = BaseAttr(fs);
  st.st_ino = v.ino;
  st.st_mode = S_IFREG | (fs.options.file_mode & (v.read_only ? 07555 : 07777));
  st.st_nlink = 1;
  st.st_size = static_cast<off_t>(v.device->sectors() << kSectorShift);
  st.st_blocks = static_cast<blkcnt_t>(v.device->sectors());
  return st;
}

// A dentry the kernel may now cache; the Invalidator drops it when stale.
fuse_entry_param EntryFor(FsState& fs, const VolumeHandle& v) {
  {
    std::lock_guard<std::mutex> g(fs.mu);
    fs.known_names.insert_or_assign(v.name, v.ino);
  }
  fuse_entry_param e{};
  e.ino = v.ino;
  e.generation = 1;
  e.attr = VolumeAttr(fs, v);
  e.attr_timeout = kAttrTimeout;
  e.entry_timeout = kEntryTimeout;
  return e;
}

// The one VolumeState of a volume, shared by all its open files.
std::shared_ptr<VolumeState> VolumeFor(FsState& fs, const VolumeHandle& v) {
  std::lock_guard<std::mutex> g(fs.mu);
  std::weak_ptr<VolumeState>& slot = fs.volumes[v.ino];
  std::shared_ptr<VolumeState> s = slot.lock();
  if (s == nullptr || s->device != v.device) {
    s = std::make_shared<VolumeState>();
    s->ino = v.ino;
    s->device = v.device;
    s->read_only = v.read_only;
    slot = s;
  }
  return s;
}

void CloseFile(FsState& fs, OpenFile* f) {
  const uint64_t ino = f->volume->ino;
  {
    std::lock_guard<std::mutex> g(fs.mu);
    fs.open_files.erase(f);
  }
  delete f;  // may drop the last VolumeState reference; not under mu
  {
    std::lock_guard<std::mutex> g(fs.mu);
    auto it = fs.volumes.find(ino);
    if (it != fs.volumes.end() && it->second.expired()) fs.volumes.erase(it);
  }
  fs.dir.Released(ino);
}

// --- Session ------------------------------------------------------------------

void Init(void* /*userdata*/, fuse_conn_info* conn) {
  auto want = [conn](unsigned cap) {
    if ((conn->capable & cap) != 0) conn->want |= cap;
  };
  want(FUSE_CAP_ASYNC_READ);
  want(FUSE_CAP_ASYNC_DIO);       // O_DIRECT aio keeps many requests in flight
  want(FUSE_CAP_ATOMIC_O_TRUNC);  // O_TRUNC is ignored, as on a block device
  want(FUSE_CAP_AUTO_INVAL_DATA);
  // The writeback cache reorders writes and hides flushes from the engine.
  conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
                  FUSE_CAP_SPLICE_MOVE);
  conn->max_write = kMaxWrite;
  conn->max_background = kMaxBackground;
  conn->congestion_threshold = kMaxBackground * 3 / 4;
}

// --- Names and attributes -----------------------------------------------------

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  FsState& fs = State(req);
  if (fs.stopping.load() && std::string_view(name).starts_with(kWakePrefix)) {
    // Exit from inside a request: the worker answers it, then leaves the loop.
    fuse_session_exit(fs.session->se);
  }
  std::optional<VolumeHandle> v;
  if (parent == FUSE_ROOT_ID) v = fs.dir.FindByName(name);
  if (!v) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_entry_param e = EntryFor(fs, *v);
  fuse_reply_entry(req, &e);
}

void Forget(fuse_req_t req, fuse_ino_t /*ino*/, uint64_t /*nlookup*/) { fuse_reply_none(req); }

void ForgetMulti(fuse_req_t req, size_t /*count*/, fuse_forget_data* /*forgets*/) {
  fuse_reply_none(req);
}

void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* /*fi*/) {
  FsState& fs = State(req);
  if (ino == FUSE_ROOT_ID) {
    struct stat st = RootAttr(fs);
    fuse_reply_attr(req, &st, kAttrTimeout);
    return;
  }
  std::optional<VolumeHandle> v = fs.dir.FindByIno(ino);
  if (!v) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct stat st = VolumeAttr(fs, *v);
  fuse_reply_attr(req, &st, kAttrTimeout);
}

// The errno for a setattr that would change what cannot change, or 0.
// Times are accepted and ignored.
int CheckSetAttr(const struct stat& now, const struct stat& attr, int to_set) {
  if ((to_set & FUSE_SET_ATTR_SIZE) != 0 && attr.st_size != now.st_size) return EINVAL;
  if ((to_set & FUSE_SET_ATTR_MODE) != 0 && (attr.st_mode & 07777) != (now.st_mode & 07777)) {
    return EPERM;
  }
  if ((to_set & FUSE_SET_ATTR_UID) != 0 && attr.st_uid != now.st_uid) return EPERM;
  if ((to_set & FUSE_SET_ATTR_GID) != 0 && attr.st_gid != now.st_gid) return EPERM;
  return 0;
}

void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
             fuse_file_info* /*fi*/) {
  FsState& fs = State(req);
  struct stat now{};
  if (ino == FUSE_ROOT_ID) {
    now = RootAttr(fs);
  } else if (std::optional<VolumeHandle> v = fs.dir.FindByIno(ino)) {
    now = VolumeAttr(fs, *v);
  } else {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (int err = CheckSetAttr(now, *attr, to_set); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fuse_reply_attr(req, &now, kAttrTimeout);
}

void StatFs(fuse_req_t req, fuse_ino_t /*ino*/) {
  FsState& fs = State(req);
  uint64_t bytes = 0;
  uint64_t files = 0;
  for (const VolumeHandle& v : fs.dir.List()) {
    // Saturates: three volumes of the largest size pass 2^64 bytes.
    const uint64_t b = v.device->sectors() << kSectorShift;
    bytes = b > UINT64_MAX - bytes ? UINT64_MAX : bytes + b;
    ++files;
  }
  struct statvfs st{};
  st.f_bsize = kBlockSize;
  st.f_frsize = kBlockSize;
  st.f_blocks = bytes / kBlockSize;
  st.f_files = files;
  st.f_namemax = 255;
  fuse_reply_statfs(req, &st);
}

// --- The root directory -----------------------------------------------------

void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino != FUSE_ROOT_ID) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  FsState& fs = State(req);
  auto* d = new DirHandle{fs.dir.List()};
  {
    std::lock_guard<std::mutex> g(fs.mu);
    fs.open_dirs.insert(d);
  }
  fi->fh = reinterpret_cast<uint64_t>(d);
  if (fuse_reply_open(req, fi) != 0) {
    std::lock_guard<std::mutex> g(fs.mu);
    fs.open_dirs.erase(d);
    delete d;
  }
}

// Adds entry `index` ("." and ".." first, then the volumes) to `buf`;
// returns the size it needs, which is more than `room` if it did not fit.
size_t AddDirEntry(fuse_req_t req, FsState& fs, const DirHandle& d, size_t index, char* buf,
                   size_t room, bool plus) {
  const off_t next = static_cast<off_t>(index + 1);
  if (index < 2) {
    const char* name = index == 0 ? "." : "..";
    fuse_entry_param e{};  // ino 0: no lookup reference for the dots
    e.attr = RootAttr(fs);
    return plus ? fuse_add_direntry_plus(req, buf, room, name, &e, next)
                : fuse_add_direntry(req, buf, room, name, &e.attr, next);
  }
  const VolumeHandle& v = d.entries[index - 2];
  if (plus) {
    fuse_entry_param e = EntryFor(fs, v);
    return fuse_add_direntry_plus(req, buf, room, v.name.c_str(), &e, next);
  }
  struct stat st{};
  st.st_ino = v.ino;
  st.st_mode = S_IFREG;
  return fuse_add_direntry(req, buf, room, v.name.c_str(), &st, next);
}

void ReadDirCommon(fuse_req_t req, size_t size, off_t off, fuse_file_info* fi, bool plus) {
  FsState& fs = State(req);
  DirHandle& d = DirOf(fi);
  if (off == 0) d.entries = fs.dir.List();  // a rewind sees the listing of now
  std::vector<char> buf(size);
  size_t used = 0;
  for (size_t i = static_cast<size_t>(off); i < d.entries.size() + 2; ++i) {
    const size_t n = AddDirEntry(req, fs, d, i, buf.data() + used, size - used, plus);
    if (n > size - used) break;
    used += n;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void ReadDir(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, size, off, fi, false);
}

void ReadDirPlus(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, size, off, fi, true);
}

void ReleaseDir(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
  FsState& fs = State(req);
  auto* d = &DirOf(fi);
  {
    std::lock_guard<std::mutex> g(fs.mu);
    fs.open_dirs.erase(d);
  }
  delete d;
  fuse_reply_err(req, 0);
}

// --- Volume files -------------------------------------------------------------

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  FsState& fs = State(req);
  if (ino == FUSE_ROOT_ID) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  std::optional<VolumeHandle> v = fs.dir.FindByIno(ino);
  if (!v) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if ((fi->flags & O_ACCMODE) != O_RDONLY && v->read_only) {
    fuse_reply_err(req, EROFS);
    return;
  }
  auto* f = new OpenFile{VolumeFor(fs, *v)};
  {
    std::lock_guard<std::mutex> g(fs.mu);
    fs.open_files.insert(f);
  }
  fs.dir.Opened(ino);
  fi->fh = reinterpret_cast<uint64_t>(f);
  // O_DIRECT bypasses the page cache; other opens keep it (write-through).
  // Direct writes may run in parallel: the engine orders nothing by the
  // inode lock, and a partial sector's read-modify-write holds a range lock.
  // Without the flag the kernel holds the inode lock across each write's
  // submission. libfuse 3.14 has no fi->parallel_direct_writes, hence the
  // device I/O hook.
  fi->direct_io = (fi->flags & O_DIRECT) != 0;
  fi->keep_cache = 0;  // an open drops pages cached before a table swap
  if (fi->direct_io) AddOpenReplyFlags(FOPEN_PARALLEL_DIRECT_WRITES);
  const int rc = fuse_reply_open(req, fi);
  ClearOpenReplyFlags();
  if (rc != 0) CloseFile(fs, f);  // interrupted: no release follows
}

void Release(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
  CloseFile(State(req), &FileOf(fi));
  fuse_reply_err(req, 0);
}

// close(): data reaches the engine write-through, so there is nothing to do.
void Flush(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* /*fi*/) { fuse_reply_err(req, 0); }

void Read(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t off, fuse_file_info* fi) {
  StartRead(State(req).session, FileOf(fi).volume, req, static_cast<uint64_t>(off), size);
}

void Write(fuse_req_t req, fuse_ino_t /*ino*/, const char* buf, size_t size, off_t off,
           fuse_file_info* fi) {
  WritePayload payload = TakeWritePayload(buf, size);
  StartWrite(State(req).session, FileOf(fi).volume, req, payload.data, std::move(payload.owned),
             size, static_cast<uint64_t>(off));
}

void Fsync(fuse_req_t req, fuse_ino_t /*ino*/, int /*datasync*/, fuse_file_info* fi) {
  StartFlush(State(req).session, FileOf(fi).volume, req);
}

void Fallocate(fuse_req_t req, fuse_ino_t /*ino*/, int mode, off_t offset, off_t length,
               fuse_file_info* fi) {
  StartFallocate(State(req).session, FileOf(fi).volume, req, mode,
                 static_cast<uint64_t>(offset), static_cast<uint64_t>(length));
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = Init;
  ops.lookup = Lookup;
  ops.forget = Forget;
  ops.forget_multi = ForgetMulti;
  ops.getattr = GetAttr;
  ops.setattr = SetAttr;
  ops.statfs = StatFs;
  ops.opendir = OpenDir;
  ops.readdir = ReadDir;
  ops.readdirplus = ReadDirPlus;
  ops.releasedir = ReleaseDir;
  ops.open = Open;
  ops.release = Release;
  ops.flush = Flush;
  ops.read = Read;
  ops.write = Write;
  ops.fsync = Fsync;
  ops.fallocate = Fallocate;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& VolumeFsOps() {
  static const fuse_lowlevel_ops ops = MakeOps();
  return ops;
}

}  // namespace udm::daemon::volfs
