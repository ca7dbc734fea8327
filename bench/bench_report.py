"""fuse_bench.py's report: medians with min-max and ratios per workload and
contender, printed as a table and drawn as a PNG chart."""
import statistics


def summarize(runs, metric):
    vals = [r[metric] for r in runs if r.get(metric) is not None and not r.get("error")]
    cpus = [r["cpu_s_per_gib"] for r in runs if r.get("cpu_s_per_gib") is not None]
    verify = [r["verify"] for r in runs]
    cpu_ns = {}
    for r in runs:
        for c, n in (r.get("fio_cpu_ns") or {}).items():
            cpu_ns[c] = cpu_ns.get(c, 0) + n
    total_ns = sum(cpu_ns.values())
    return {
        "median": statistics.median(vals) if vals else None,
        "min": min(vals) if vals else None,
        "max": max(vals) if vals else None,
        "ok_runs": len(vals),
        "runs": len(runs),
        "cpu_s_per_gib": statistics.median(cpus) if cpus else None,
        "verify": "-" if all(v == "-" for v in verify) else
                  f"{verify.count('pass')}/{len(verify)} pass",
        "errors": sorted({" ".join(r["error"].split())[:120] for r in runs if r.get("error")}),
        # Where fio ran: the share of its CPU time spent on each CPU, all
        # runs together (older JSON has no such figures).
        "fio_cpu_share": {c: n / total_ns for c, n in sorted(cpu_ns.items(), key=lambda kv: int(kv[0]))}
                         if total_ns else None,
    }


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, digits=1):
    if v is None:
        return "n/a"
    return f"{v:.{digits}f}" if abs(v) < 1e4 else f"{v / 1e3:.{digits}f}k"


def print_table(results, workloads, names):
    """Prints one block per workload; returns the summary for the JSON."""
    summary = {}
    for w, (metric, unit, higher, desc) in workloads.items():
        if not any(w in results[n] for n in names) or not results[names[0]].get(w):
            continue
        s = {n: summarize(results[n][w], metric) for n in names}
        raw = s.get("raw", {}).get("median")
        qsd = s.get("qsd", {}).get("median")
        for n in names:
            s[n]["x_raw"] = ratio(s[n]["median"], raw)
            s[n]["x_qsd"] = ratio(s[n]["median"], qsd)
        # For latencies: what a udm volume adds beyond the raw file plus
        # the FUSE round trip (udm_floor, measured in the same run). The
        # floor is FUSE over io_uring's, so udm_dev (/dev/fuse) is left out.
        floor = s.get("udm_floor", {}).get("median")
        if not higher and raw is not None and floor is not None:
            for n in names:
                if (n.startswith("udm") and n not in ("udm_floor", "udm_dev")
                        and s[n]["median"] is not None):
                    s[n]["beyond_floor_us"] = s[n]["median"] - raw - floor
        summary[w] = s
        better = "higher" if higher else "lower"
        print(f"\n{desc}: {unit} ({better} is better)")
        print(f"  {'contender':15s} {'median':>9s} {'min-max':>19s} {'x raw':>6s} {'x qsd':>6s} "
              f"{'cpu s/GiB':>9s} {'verify':>9s}")
        for n in names:
            e = s[n]
            rng = f"{fmt(e['min'])}-{fmt(e['max'])}" if e["median"] is not None else "n/a"
            print(f"  {n:15s} {fmt(e['median']):>9s} {rng:>19s} {fmt(e['x_raw'], 2):>6s} "
                  f"{fmt(e['x_qsd'], 2):>6s} {fmt(e['cpu_s_per_gib'], 2):>9s} {e['verify']:>9s}")
            for err in e["errors"]:
                print(f"      error: {err}")
        beyond = [f"{n} {e['beyond_floor_us']:+.1f} us" for n, e in s.items()
                  if e.get("beyond_floor_us") is not None]
        if beyond:
            print("  beyond raw + udm_floor: " + ", ".join(beyond))
        placed = [f"{n} " + " ".join(f"{c}:{100 * v:.0f}%" for c, v in e["fio_cpu_share"].items())
                  for n, e in s.items() if e.get("fio_cpu_share")]
        if placed:
            print("  fio's CPU time by CPU: " + ", ".join(placed))
    return summary


IPC_KEYS = ("syscall_us", "process_round_trip_us", "thread_round_trip_us")


def summarize_ipc(runs, cpu):
    """Medians of udm_ipc_floor's runs (one per repetition), or None."""
    if not runs:
        return None
    out = {"cpu": cpu, "runs": runs}
    for k in IPC_KEYS:
        out[k] = statistics.median(r[k] for r in runs)
    return out


def print_ipc(ipc):
    """The machine's floor under any FUSE file: a FUSE request is a round
    trip to another process, with system calls on both sides."""
    if not ipc:
        return
    lo = {k: min(r[k] for r in ipc["runs"]) for k in IPC_KEYS}
    hi = {k: max(r[k] for r in ipc["runs"]) for k in IPC_KEYS}
    names = {"syscall_us": "a system call that does nothing",
             "process_round_trip_us": "a pipe round trip between two processes",
             "thread_round_trip_us": "the same between two threads"}
    print(f"\nthe machine, on CPU {ipc['cpu']} (udm_ipc_floor, medians of {len(ipc['runs'])}):")
    for k in IPC_KEYS:
        print(f"  {names[k] + ':':42s} {ipc[k]:6.2f} us ({lo[k]:.2f}-{hi[k]:.2f})")


def write_chart(summary, workloads, names, path, meta):
    """Grouped bars: each contender's speed relative to the raw file (for
    latencies raw/contender, so that higher is better everywhere)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ws = [w for w in workloads if w in summary]
    fig, ax = plt.subplots(figsize=(10, 0.16 * len(ws) * len(names) + 1.5))
    height = 0.8 / len(names)
    for i, n in enumerate(names):
        vals, hatches = [], []
        for w in ws:
            e = summary[w][n]
            r = e["x_raw"]
            if r and not workloads[w][2]:
                r = 1.0 / r
            vals.append(r or 0.0)
            hatches.append("//" if e["verify"] not in ("-",) and not e["verify"].startswith(
                f"{e['runs']}/") else "")
        ys = [k + i * height for k in range(len(ws))]
        bars = ax.barh(ys, vals, height=height, label=n)
        for b, h, w, y in zip(bars, hatches, ws, ys):
            b.set_hatch(h)
            e = summary[w][n]
            if e["median"] is None and e["runs"] > 0:
                why = "verify failed" if e["verify"] not in ("-",) else "failed"
                ax.text(0.02, y, f"{n}: {why}", va="center", fontsize=6)
    # udm_floor's latencies are several times better than raw: cut the axis
    # at 2x so the rest stays readable, and print the value of a cut bar.
    xmax = 2.0
    for p in ax.patches:
        if p.get_width() > xmax:
            ax.text(xmax * 0.98, p.get_y() + p.get_height() / 2, f"{p.get_width():.1f}x \u2192",
                    va="center", ha="right", fontsize=6)
    ax.set_xlim(0, xmax)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks([k + 0.4 - height / 2 for k in range(len(ws))])
    ax.set_yticklabels([workloads[w][3] for w in ws], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("speed relative to the raw file (latency: raw / contender)")
    ax.set_title(f"udm FUSE volumes vs peers: medians of {meta['reps']} interleaved runs, "
                 f"{meta['nproc']} CPUs, load {meta['loadavg_before'][0]:.1f}"
                 + (f", fio on CPU {meta['fio_cpu']}" if meta.get("fio_cpu") is not None else ""),
                 fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
