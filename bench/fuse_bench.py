#!/usr/bin/python3
"""Volume files through FUSE against the raw file and its peers.

Runs the same fio workloads over the raw backing file, a udm linear and a
udm striped volume, qemu-storage-daemon's FUSE export and nbdkit + nbdfuse,
each over its own copy of one backing file on the local disk, interleaved
(A B C ... A B C ...) so that machine load hits every contender alike.
Prints medians with min-max and ratios to raw and to qemu-storage-daemon,
and writes JSON and a PNG chart. Run as root (FUSE mounts, loop devices).
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

from bench_contenders import CONTENDERS, Cleanup, enable_fuse_uring, make_backing, start_contender
from bench_report import print_ipc, print_table, summarize_ipc, write_chart

# name -> (metric, unit, higher_is_better, description). The verify column
# of a run is "pass"/"FAIL" when fio verified its data, "-" otherwise.
WORKLOADS = {
    "randread4k_qd32": ("iops", "IOPS", True, "4k random read, QD32"),
    "randwrite4k_qd32": ("iops", "IOPS", True, "4k random write, QD32, verify crc32c"),
    "randread4k_qd1": ("p50_us", "us p50", False, "4k random read, QD1 (p50 latency, submit to completion)"),
    "seqread1m_qd8": ("mbps", "MB/s", True, "1 MiB sequential read, QD8"),
    "seqwrite1m_qd8": ("mbps", "MB/s", True, "1 MiB sequential write, QD8"),
    "fsync4k_qd1": ("fsync_p50_us", "us p50", False, "4k write + fsync each, QD1, verify"),
    "ext4_loop": ("iops", "IOPS", True, "ext4 on loop (buffered), 4k randwrite+fsync"),
    "ext4_loop_dio": ("iops", "IOPS", True, "ext4 on loop --direct-io=on, 4k randwrite+fsync"),
}
REQUIRED_TOOLS = {"fio": "fio", "losetup": "util-linux", "mkfs.ext4": "e2fsprogs",
                  "fusermount3": "fuse3"}


def fio_cpu_args(cpu):
    """fio's options that keep its job on CPU `cpu` (None: where the
    scheduler puts it)."""
    return [] if cpu is None else [f"--cpus_allowed={cpu}"]


def fio_args(workload, target, runtime, quick, verify=True, cpu=None):
    """The fio command line of `workload` against file `target`; `verify`
    False leaves out fio's verification (for a contender that drops writes)."""
    base = ["fio", "--output-format=json", "--name=" + workload, "--filename=" + target,
            "--ioengine=libaio", "--direct=1", "--thread", "--group_reporting",
            "--verify_state_save=0"] + fio_cpu_args(cpu)
    timed = ["--time_based", f"--runtime={runtime}", "--ramp_time=1" if not quick else "--ramp_time=0"]
    if workload == "randread4k_qd32":
        return base + timed + ["--rw=randread", "--bs=4k", "--iodepth=32", "--norandommap"]
    if workload == "randwrite4k_qd32":
        size = "32M" if quick else "256M"
        return base + ["--rw=randwrite", "--bs=4k", "--iodepth=32", f"--size={size}",
                       "--verify=crc32c", "--do_verify=1", "--verify_fatal=1"]
    if workload == "randread4k_qd1":
        # Latency is timed from submission to completion (fio's "lat"), not
        # from the end of io_submit (its "clat"): on the raw file io_submit
        # itself starts the device (18 us of a 31 us read on this machine),
        # while a FUSE file's io_submit only queues the request, so clat
        # alone would leave the raw file's submission cost out and count
        # udm's in. Both p50s are kept in the JSON.
        return base + timed + ["--rw=randread", "--bs=4k", "--iodepth=1", "--norandommap",
                               "--lat_percentiles=1"]
    if workload == "seqread1m_qd8":
        return base + timed + ["--rw=read", "--bs=1M", "--iodepth=8"]
    if workload == "seqwrite1m_qd8":
        return base + timed + ["--rw=write", "--bs=1M", "--iodepth=8"]
    if workload == "fsync4k_qd1":
        size = "4M" if quick else "16M"
        checks = ["--verify=crc32c", "--do_verify=1", "--verify_fatal=1"] if verify else []
        return base + ["--rw=randwrite", "--bs=4k", "--iodepth=1", "--fsync=1",
                       f"--size={size}"] + checks
    raise ValueError(workload)


def parse_fio(out):
    """Metrics of fio's JSON output: iops, MB/s, p50s, bytes moved."""
    job = json.loads(out[out.index("{"):])["jobs"][0]
    rd, wr, sync = job["read"], job["write"], job.get("sync", {})
    # Reads in a write job are its verification pass.
    main = wr if wr["total_ios"] > 0 else rd
    clat = main["clat_ns"].get("percentile", {})
    # Total latency when fio was asked for it (--lat_percentiles), else clat.
    pct = main["lat_ns"].get("percentile", clat)
    sync_pct = sync.get("lat_ns", {}).get("percentile", {})
    return {
        "iops": main["iops"],
        "mbps": main["bw_bytes"] / 1e6,
        "p50_us": pct.get("50.000000", 0) / 1000.0,
        "clat_p50_us": clat.get("50.000000", 0) / 1000.0,
        "fsync_p50_us": sync_pct.get("50.000000", 0) / 1000.0,
        "bytes": rd["io_bytes"] + wr["io_bytes"],
        "fio_error": job.get("error", 0),
    }


def tree_tasks(pid):
    """(tid, task dir) of every thread of `pid` and of its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            d = f"/proc/{p}/task/{t}"
            out.append((int(t), d))
            try:
                with open(d + "/children") as f:
                    todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    return out


class Placement:
    """Where a process tree spends its CPU time: every `period` seconds each
    thread's time on a CPU since the last look (schedstat) is put down to
    the CPU it runs or last ran on (stat field 39). The scheduler's
    placement of fio moves QD1 and fsync results a lot on this machine
    (README, FUSE benchmark), so every run records it. A thread's last
    stretch before it exits (under one period) is not counted."""

    def __init__(self, pid, period=0.05):
        self.pid, self.period = pid, period
        self.ns = {}      # CPU -> nanoseconds
        self.seen = {}    # tid -> schedstat run time at the last look
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def look(self):
        for tid, d in tree_tasks(self.pid):
            try:
                with open(d + "/schedstat") as f:
                    run_ns = int(f.read().split()[0])
                with open(d + "/stat") as f:
                    cpu = int(f.read().rsplit(")", 1)[1].split()[36])
            except (OSError, ValueError, IndexError):
                continue
            delta = run_ns - self.seen.get(tid, 0)
            self.seen[tid] = run_ns
            if delta > 0:
                self.ns[cpu] = self.ns.get(cpu, 0) + delta

    def loop(self):
        while not self.stop.wait(self.period):
            self.look()

    def finish(self):
        """{CPU: nanoseconds}, keys as strings (JSON)."""
        self.stop.set()
        self.thread.join()
        return {str(c): n for c, n in sorted(self.ns.items())}


def run_fio(args, timeout):
    """fio's figures (with `fio_cpu_ns`: its CPU time on each CPU) and an
    error text or None. Raises subprocess.TimeoutExpired as subprocess.run
    does, after killing fio and the job processes it forked (its own
    session, so that none is left holding the output pipes)."""
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as p:
        placement = Placement(p.pid)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise
        finally:
            cpu_ns = placement.finish()
    try:
        m = parse_fio(out)
    except (ValueError, KeyError, IndexError):
        return None, (err or out)[-400:]
    m["fio_cpu_ns"] = cpu_ns
    if p.returncode != 0 or m["fio_error"] != 0:
        return m, (err or "fio failed")[-400:]
    return m, None


def cpu_seconds(pids):
    """utime + stime of `pids` and their descendants, in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append((int(d), fields))
            except OSError:
                continue
    total, todo, seen = 0.0, list(pids), set()
    stats = {pid: fs for lst in children.values() for pid, fs in lst}
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        if pid in stats:
            total += (int(stats[pid][11]) + int(stats[pid][12])) / tick
        todo.extend(c for c, _ in children.get(pid, []))
    return total


def run_ext4(workload, target, runtime, quick, cleanup, work, cpu=None):
    """fio fsync-heavy random writes in ext4 made on a loop over `target`."""
    dio = "on" if workload == "ext4_loop_dio" else "off"
    loop = subprocess.run(["losetup", "-f", "--show", f"--direct-io={dio}", target],
                          capture_output=True, text=True)
    if loop.returncode != 0:
        return None, "losetup: " + loop.stderr.strip()
    dev = loop.stdout.strip()
    cleanup.loops.append(dev)
    mnt = os.path.join(work, "ext4-mnt")
    os.makedirs(mnt, exist_ok=True)
    try:
        mk = subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "nodiscard", dev],
                            capture_output=True, text=True, timeout=300)
        if mk.returncode != 0:
            return None, "mkfs.ext4: " + mk.stderr.strip()[-300:]
        mo = subprocess.run(["mount", dev, mnt], capture_output=True, text=True, timeout=120)
        if mo.returncode != 0:
            return None, "mount: " + mo.stderr.strip()[-300:]
        cleanup.mounts.append(mnt)
        size = "32M" if quick else "64M"
        args = ["fio", "--output-format=json", "--name=" + workload, "--directory=" + mnt,
                "--ioengine=psync", "--rw=randwrite", "--bs=4k", "--fsync=1", f"--size={size}",
                "--time_based", f"--runtime={runtime}"] + fio_cpu_args(cpu)
        return run_fio(args, runtime * 10 + 120)
    finally:
        cleanup.unmount(mnt)
        cleanup.detach_loop(dev)


def run_one(workload, contender, runtime, quick, cleanup, work, verify=True, cpu=None):
    target, pids = contender["file"], contender["pids"]
    cpu0 = cpu_seconds(pids)
    t0 = time.monotonic()
    if workload.startswith("ext4"):
        m, err = run_ext4(workload, target, runtime, quick, cleanup, work, cpu)
    else:
        m, err = run_fio(fio_args(workload, target, runtime, quick, verify, cpu),
                         runtime * 20 + 300)
    cpu = cpu_seconds(pids) - cpu0
    res = {"elapsed": time.monotonic() - t0, "error": err}
    if m is not None:
        res.update(m)
        res["cpu_s_per_gib"] = cpu / (m["bytes"] / 2**30) if pids and m["bytes"] else None
    has_verify = verify and workload in ("randwrite4k_qd32", "fsync4k_qd1")
    res["verify"] = ("FAIL" if err else "pass") if has_verify else "-"
    return res


def ipc_floor_path(build_dir):
    return os.path.join(build_dir, "bench", "udm_ipc_floor")


def run_ipc_floor(build_dir, cpu):
    """The machine's system call and process/thread round-trip costs on
    `cpu` (bench/ipc_floor.cc), or None with the reason printed."""
    try:
        p = subprocess.run([ipc_floor_path(build_dir), "--cpu", str(cpu)], capture_output=True,
                           text=True, timeout=300)
    except subprocess.TimeoutExpired:  # a stuck measurement costs its figures, not the run
        print(f"fuse_bench: udm_ipc_floor on CPU {cpu} did not finish within 300 s; "
              "no machine figures for this repetition", file=sys.stderr)
        return None
    if p.returncode != 0:
        print(f"fuse_bench: {p.stderr.strip()}", file=sys.stderr)
        return None
    return json.loads(p.stdout)


def check_tools(names, build_dir, ipc=True):
    missing = []
    if ipc and not os.path.exists(ipc_floor_path(build_dir)):
        missing.append(f"udm_ipc_floor (build it: ninja -C {build_dir} udm_ipc_floor)")
    try:  # the chart is drawn at the end: find out now, not after the run
        import matplotlib  # noqa: F401
    except ImportError:
        missing.append(f"matplotlib for {sys.executable} (Debian package python3-matplotlib; "
                       "run Debian's /usr/bin/python3)")
    for tool, pkg in REQUIRED_TOOLS.items():
        if shutil.which(tool) is None:
            missing.append(f"{tool} (Debian package {pkg})")
    for name in names:
        c = CONTENDERS[name]
        for tool, pkg in c.get("tools", {}).items():
            if shutil.which(tool) is None:
                missing.append(f"{tool} for {name} (Debian package {pkg})")
        if c.get("udm"):
            for b in ("udmd", "udmsetup"):
                if not os.path.exists(os.path.join(build_dir, "daemon", b if b == "udmd" else "control/udmsetup")):
                    missing.append(f"{b} for {name} (build it: ninja -C {build_dir} udmd udmsetup)")
    return missing


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default="build", help="CMake build tree with udmd and udmsetup")
    ap.add_argument("--work-dir", default="/var/tmp/udm-fuse-bench",
                    help="backing files and mounts (local disk, not tmpfs)")
    ap.add_argument("--size-mib", type=int, default=1024, help="backing file size")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--runtime", type=int, default=5, help="seconds per timed fio run")
    ap.add_argument("--quick", action="store_true", help="1 rep, 2 s runs, small sizes")
    ap.add_argument("--ref-build-dir", help="a second build tree: adds contender udm_ref")
    ap.add_argument("--contenders", default=",".join(c for c in CONTENDERS if c != "udm_ref"))
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--json", default="bench/results/fuse-bench.json")
    ap.add_argument("--chart",
                    help="PNG to draw (a run's default: docs/fuse-bench.png; with "
                         "--report-only, a chart is drawn only when this is given)")
    ap.add_argument("--fio-cpu", type=int,
                    help="keep fio on this CPU for every contender (default: the scheduler "
                         "places it); see bench/README.md on placement")
    ap.add_argument("--report-only", action="store_true",
                    help="print the table from --json without running (and draw a chart "
                         "only if --chart is given)")
    args = ap.parse_args()
    if args.report_only:
        with open(args.json) as f:
            saved = json.load(f)
        names = list(saved["runs"])
        summary = print_table(saved["runs"], WORKLOADS, names)
        print_ipc(saved["meta"].get("ipc"))
        if args.chart:  # never redraw the README's chart from another run by default
            write_chart(summary, WORKLOADS, names, args.chart, saved["meta"])
        return
    args.chart = args.chart or "docs/fuse-bench.png"
    if args.quick:
        args.reps, args.runtime = 1, 2
    names = [n for n in args.contenders.split(",") if n]
    if args.ref_build_dir and "udm_ref" not in names:
        names.insert(names.index("raw") + 1 if "raw" in names else 0, "udm_ref")
    if "udm_ref" in names and not args.ref_build_dir:
        sys.exit("fuse_bench: contender udm_ref needs --ref-build-dir")
    workloads = [w for w in args.workloads.split(",") if w]
    bad = [n for n in names if n not in CONTENDERS] + [w for w in workloads if w not in WORKLOADS]
    if bad:
        sys.exit(f"fuse_bench: unknown contender or workload: {', '.join(bad)}; "
                 f"contenders: {', '.join(CONTENDERS)}; workloads: {', '.join(WORKLOADS)}")
    if args.fio_cpu is not None and args.fio_cpu not in os.sched_getaffinity(0):
        sys.exit(f"fuse_bench: --fio-cpu {args.fio_cpu}: no such CPU here "
                 f"(this process may use {sorted(os.sched_getaffinity(0))})")
    if os.geteuid() != 0:
        sys.exit("fuse_bench: run as root (FUSE mounts and loop devices)")
    missing = check_tools([n for n in names if n != "udm_ref"], os.path.abspath(args.build_dir))
    if args.ref_build_dir:
        missing += check_tools(["udm_ref"], os.path.abspath(args.ref_build_dir), ipc=False)
    if missing:
        sys.exit("fuse_bench: missing: " + "; ".join(missing))

    cleanup = Cleanup()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = {n: {w: [] for w in workloads} for n in names}
    ipc_cpu = args.fio_cpu if args.fio_cpu is not None else min(os.sched_getaffinity(0))
    ipc_runs = []
    fuse_uring = False
    load_before = os.getloadavg()
    try:
        work = os.path.abspath(args.work_dir)
        os.makedirs(work, exist_ok=True)
        base = make_backing(work, args.size_mib)
        # udm's contenders ask for FUSE over io_uring (udm_dev for /dev/fuse);
        # without it in the kernel they fall back to /dev/fuse (udmd says so).
        fuse_uring = enable_fuse_uring(cleanup)
        if not fuse_uring:
            print("fuse_bench: this kernel has no FUSE over io_uring; udm uses /dev/fuse",
                  file=sys.stderr)
        started = {}
        for n in names:
            print(f"starting {n} ...", flush=True)
            started[n] = start_contender(n, work, base, args.size_mib,
                                         os.path.abspath(args.build_dir), cleanup,
                                         args.ref_build_dir and os.path.abspath(args.ref_build_dir))
        for rep in range(args.reps):
            # Every other repetition runs the contenders in reverse (A B C, C B
            # A, ...), so that none always follows the same neighbour.
            order = names if rep % 2 == 0 else list(reversed(names))
            ipc = run_ipc_floor(os.path.abspath(args.build_dir), ipc_cpu)
            if ipc is not None:
                ipc_runs.append(ipc)
            for w in workloads:
                for n in order:
                    only = CONTENDERS[n].get("workloads")
                    if only is not None and w not in only:
                        continue
                    r = run_one(w, started[n], args.runtime, args.quick, cleanup, work,
                                CONTENDERS[n].get("verify", True), args.fio_cpu)
                    results[n][w].append(r)
                    metric = WORKLOADS[w][0]
                    val = r.get(metric)
                    print(f"rep {rep + 1}/{args.reps} {w:18s} {n:14s} "
                          f"{'%.1f' % val if val is not None else 'n/a':>10s} {WORKLOADS[w][1]}"
                          f" verify={r['verify']}" + (f" error: {r['error']}" if r["error"] else ""),
                          flush=True)
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        raise SystemExit(130)
    finally:
        cleanup.run()
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "reps": args.reps,
            "runtime_s": args.runtime, "quick": args.quick, "size_mib": args.size_mib,
            "nproc": os.cpu_count(), "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(), "kernel": os.uname().release,
            "fuse_uring": fuse_uring, "fio_cpu": args.fio_cpu,
            "ipc": summarize_ipc(ipc_runs, ipc_cpu)}
    summary = print_table(results, WORKLOADS, names)
    print_ipc(meta["ipc"])
    for path in (args.json, args.chart):
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"meta": meta, "workloads": WORKLOADS, "summary": summary, "runs": results},
                  f, indent=1)
    write_chart(summary, WORKLOADS, names, args.chart, meta)
    print(f"wrote {args.json} and {args.chart}; load average before/after "
          f"{load_before[0]:.1f}/{meta['loadavg_after'][0]:.1f} on {meta['nproc']} CPUs")


if __name__ == "__main__":
    main()
