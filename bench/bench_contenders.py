"""The contenders of fuse_bench.py: how each one is started over its own
copy of the backing file, and the cleanup that undoes every mount, loop
device and process, also after an error or Ctrl-C."""
import os
import signal
import subprocess
import time

# name -> Debian packages of the tools it needs; "udm" ones run the daemon
# from the build tree.
CONTENDERS = {
    "raw": {},
    # every udm contender but udm_dev takes requests over FUSE-over-io_uring
    "udm_linear": {"udm": True},
    # linear through /dev/fuse (--fuse-transport dev): the ring's gain
    "udm_dev": {"udm": True},
    "udm_striped": {"udm": True},
    # linear in the `ordered` barrier mode: every flush is an ordered barrier
    "udm_ordered": {"udm": True},
    # The FUSE round trip alone: a udm volume over the zero target, so no
    # backing I/O at all (reads return zeros, writes are dropped). It runs
    # only the latency workloads, without fio's verify (its writes are not
    # kept): what is left between it and 0 is what any FUSE file costs here.
    "udm_floor": {"udm": True, "workloads": ("randread4k_qd1", "fsync4k_qd1"), "verify": False},
    "qsd": {"tools": {"qemu-storage-daemon": "qemu-system-common"}},
    "nbdkit_nbdfuse": {"tools": {"nbdkit": "nbdkit", "nbdfuse": "libnbd-bin"}},
    # udm linear from a second build tree (--ref-build-dir), to measure a
    # change against the code before it in the same interleaved run.
    "udm_ref": {"udm": True, "ref": True},
}
STRIPE_CHUNK_SECTORS = 256  # 128 KiB


class Cleanup:
    """What the benchmark set up, undone in reverse order by run()."""

    def __init__(self):
        self.procs = []    # subprocess.Popen, stopped with SIGTERM then SIGKILL
        self.mounts = []   # filesystems on loop devices
        self.fuse_mounts = []  # FUSE mountpoints, left once their server has stopped
        self.loops = []    # loop devices
        self.files = []    # per-contender copies of the backing file
        self.params = []   # (path, old value) of kernel parameters changed

    def unmount(self, path):
        if path in self.mounts:
            subprocess.run(["umount", path], capture_output=True)
            if os.path.ismount(path):
                subprocess.run(["umount", "-l", path], capture_output=True)
            self.mounts.remove(path)

    def detach_loop(self, dev):
        if dev in self.loops:
            subprocess.run(["losetup", "-d", dev], capture_output=True)
            self.loops.remove(dev)

    def stop(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def run(self):
        # Ctrl-C again must not leave half the cleanup undone.
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for m in reversed(list(self.mounts)):
                self.unmount(m)
            for d in reversed(list(self.loops)):
                self.detach_loop(d)
            for p in reversed(self.procs):
                self.stop(p)
            self.procs.clear()
            for m in self.fuse_mounts:
                if os.path.ismount(m):
                    subprocess.run(["umount", "-l", m], capture_output=True)
            self.fuse_mounts.clear()
            for f in self.files:
                if os.path.exists(f):
                    os.unlink(f)
            self.files.clear()
            for path, value in reversed(self.params):
                with open(path, "w") as f:
                    f.write(value)
            self.params.clear()
        finally:
            signal.signal(signal.SIGINT, old)


def make_backing(work, size_mib):
    """A backing file full of random data (holes would make reads free)."""
    base = os.path.join(work, "base.img")
    if os.path.exists(base) and os.path.getsize(base) == size_mib << 20:
        return base
    subprocess.run(["dd", "if=/dev/urandom", "of=" + base, "bs=1M", f"count={size_mib}",
                    "status=none", "conv=fsync"], check=True)
    return base


def copy_backing(base, path, size_mib, cleanup):
    """A copy written with O_DIRECT: no dirty page cache for the runs to flush."""
    cleanup.files.append(path)
    subprocess.run(["dd", "if=" + base, "of=" + path, "bs=4M", f"count={size_mib // 4}",
                    "iflag=direct", "oflag=direct", "conv=fsync", "status=none"], check=True)
    return path


def wait_for(pred, what, proc=None, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"{what}: not ready after {timeout} s")


def spawn(cmd, log, cleanup):
    with open(log, "w") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    cleanup.procs.append(p)
    return p


def file_has_size(path, size):
    try:
        return os.stat(path).st_size == size
    except OSError:
        return False


URING_PARAM = "/sys/module/fuse/parameters/enable_uring"


def enable_fuse_uring(cleanup):
    """Turns FUSE over io_uring on for the run (put back by cleanup); False if absent."""
    try:
        with open(URING_PARAM) as f:
            old = f.read().strip()
    except OSError:
        return False
    if old != "Y":
        with open(URING_PARAM, "w") as f:
            f.write("Y")
        cleanup.params.append((URING_PARAM, old))
    return True


def udm_sectors(size_mib):
    return (size_mib << 20) // 512


def udm_table(files, size_mib):
    """A linear table over one file, or a striped one over several."""
    sectors = udm_sectors(size_mib)
    if len(files) == 1:
        return f"0 {sectors} linear {files[0]} 0"
    return f"0 {sectors} striped {len(files)} {STRIPE_CHUNK_SECTORS} " + \
        " ".join(f"{f} 0" for f in files)


def start_udm(dirpath, table, size_mib, build_dir, cleanup, extra=(), transport="uring"):
    state, mnt = os.path.join(dirpath, "state"), os.path.join(dirpath, "mnt")
    os.makedirs(state, exist_ok=True)
    os.makedirs(mnt, exist_ok=True)
    sock = os.path.join(state, "udm.sock")
    if os.path.exists(os.path.join(state, "udm.db")):
        os.unlink(os.path.join(state, "udm.db"))  # a fresh daemon, no volumes
    args = [os.path.join(build_dir, "daemon", "udmd"), "--state-dir", state, "--mount", mnt,
            "--foreground"]
    if transport:  # a reference build from before the option takes none
        args += ["--fuse-transport", transport]
    p = spawn(args, os.path.join(dirpath, "udmd.log"), cleanup)
    cleanup.fuse_mounts.append(mnt)
    wait_for(lambda: os.path.exists(sock), "udmd socket", p)
    subprocess.run([os.path.join(build_dir, "daemon", "control", "udmsetup"), "--socket", sock,
                    "create", "vol", "--table", table, *extra], check=True, capture_output=True)
    vol = os.path.join(mnt, "vol")
    wait_for(lambda: file_has_size(vol, size_mib << 20), "udm volume file", p)
    return {"file": vol, "pids": [p.pid]}


def start_qsd(dirpath, copy, size_mib, cleanup):
    export = os.path.join(dirpath, "export")
    open(export, "a").close()
    p = spawn(["qemu-storage-daemon",
               "--blockdev", f"driver=file,node-name=f0,filename={copy},cache.direct=on",
               "--export", f"type=fuse,id=e0,node-name=f0,mountpoint={export},writable=on"],
              os.path.join(dirpath, "qsd.log"), cleanup)
    cleanup.fuse_mounts.append(export)
    wait_for(lambda: file_has_size(export, size_mib << 20), "qemu-storage-daemon export", p)
    return {"file": export, "pids": [p.pid]}


def start_nbd(dirpath, copy, size_mib, cleanup):
    sock, mnt = os.path.join(dirpath, "nbd.sock"), os.path.join(dirpath, "mnt")
    os.makedirs(mnt, exist_ok=True)
    if os.path.exists(sock):
        os.unlink(sock)
    kit = spawn(["nbdkit", "-f", "-U", sock, "file", copy], os.path.join(dirpath, "nbdkit.log"),
                cleanup)
    wait_for(lambda: os.path.exists(sock), "nbdkit socket", kit)
    fuse = spawn(["nbdfuse", mnt, f"nbd+unix:///?socket={sock}"],
                 os.path.join(dirpath, "nbdfuse.log"), cleanup)
    cleanup.fuse_mounts.append(mnt)
    f = os.path.join(mnt, "nbd")
    wait_for(lambda: file_has_size(f, size_mib << 20), "nbdfuse file", fuse)
    return {"file": f, "pids": [kit.pid, fuse.pid]}


def start_contender(name, work, base, size_mib, build_dir, cleanup, ref_build_dir=None):
    """Starts `name` over fresh copies of `base`; returns its file and daemon pids."""
    d = os.path.join(work, name)
    if os.path.isdir(d):
        for m in (os.path.join(d, "mnt"), os.path.join(d, "export")):
            if os.path.ismount(m):
                subprocess.run(["umount", "-l", m], capture_output=True)
    os.makedirs(d, exist_ok=True)
    if name == "raw":
        return {"file": copy_backing(base, os.path.join(d, "disk.img"), size_mib, cleanup),
                "pids": []}
    if name in ("udm_linear", "udm_dev", "udm_ref"):
        f = copy_backing(base, os.path.join(d, "disk.img"), size_mib, cleanup)
        transport = {"udm_linear": "uring", "udm_dev": "dev", "udm_ref": None}[name]
        return start_udm(d, udm_table([f], size_mib), size_mib,
                         ref_build_dir if name == "udm_ref" else build_dir, cleanup,
                         transport=transport)
    if name == "udm_floor":
        return start_udm(d, f"0 {udm_sectors(size_mib)} zero", size_mib, build_dir, cleanup)
    if name == "udm_ordered":
        f = copy_backing(base, os.path.join(d, "disk.img"), size_mib, cleanup)
        return start_udm(d, udm_table([f], size_mib), size_mib, build_dir, cleanup,
                         ("--barriers", "ordered"))
    if name == "udm_striped":
        half = size_mib // 2
        files = [copy_backing(base, os.path.join(d, f"disk{i}.img"), half, cleanup)
                 for i in range(2)]
        return start_udm(d, udm_table(files, size_mib), size_mib, build_dir, cleanup)
    if name == "qsd":
        return start_qsd(d, copy_backing(base, os.path.join(d, "disk.img"), size_mib, cleanup),
                         size_mib, cleanup)
    if name == "nbdkit_nbdfuse":
        return start_nbd(d, copy_backing(base, os.path.join(d, "disk.img"), size_mib, cleanup),
                         size_mib, cleanup)
    raise ValueError(name)

