"""M4SC over emulated Plutos: ``lamsc link FILE --users U.yaml --radio pluto`` for 4 and 8 users.

Starts ``lamsc emulate pluto --devices 9`` (one transmitter, up to eight receivers, one air; each
device its own crystal error, drawn with the seed), calibrates every TX/RX pair with ``lamsc
calibrate`` (each pair has its own carrier offset), then for every media item and user count runs
the real CLI once (shared scheme, 915 MHz, each receiver with its pair's calibration) and writes
each run's JSON plus ``summary.json`` under ``--out``: delivery per user (status ok), text intact
(the received text's cosine with what the user recombines on a clean channel >= 0.999), output
correct (the task output's cosine with its clean-channel output >= 0.8, the experiment's
criterion), each with n and a 95 % Wilson interval; channel uses.

    python scripts/m4sc_plutos.py --out docs/results/m4sc/pluto
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

from lamsc_sdr.experiments import evalsets
from lamsc_sdr.m4sc.experiment import evalset_items, templates_for
from lamsc_sdr.stats import proportion


def users_file(path: Path, n: int, modality: str) -> Path:
    """The experiment's task mix (``templates_for``) as a users file."""
    rows = [{"id": i + 1, "profile": t.user, "task": t.task, **({"instruction": t.instruction} if t.instruction else {})}
            for i, t in enumerate(templates_for(n, modality))]
    path.write_text(yaml.safe_dump({"schema_version": 1, "sender": "Mike", "users": rows}, sort_keys=False))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/results/m4sc/pluto")
    ap.add_argument("--users", default="4,8")
    ap.add_argument("--items", default="image:2,audio:2,video:1", help="items per modality of the full evaluation set")
    ap.add_argument("--port", type=int, default=30731)
    ap.add_argument("--snr", type=float, default=60.0, help="emulated air SNR (lamsc emulate pluto --snr)")
    ap.add_argument("--repair", type=int, default=1)
    ap.add_argument("--center-freq", type=float, default=915e6)
    ap.add_argument("--no-calibration", action="store_true", help="receivers without their pair's calibration")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    counts = [int(x) for x in a.users.split(",")]
    per = {k: int(v) for k, v in (x.split(":") for x in a.items.split(","))}
    media = evalset_items("full", per)
    dev = max(counts) + 1
    emu = subprocess.Popen([sys.executable, "-m", "lamsc_sdr.cli", "emulate", "pluto", "--devices", str(dev),
                            "--port", str(a.port), "--snr", str(a.snr), "--seed", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = emu.stdout.readline()
        if "ready" not in line:
            raise SystemExit(f"emulator did not start: {line} {emu.stderr.read()}")
        uris = line.split("ready ", 1)[1].split(" (", 1)[0].split()
        print(line.strip(), flush=True)
        common = ["--radio", "pluto", "--uri", uris[0], "--set", f"radio.center_freq={a.center_freq}"]
        cals = []
        for k, u in enumerate(uris[1:]):
            cal = out / f"cal_rx{k + 1}.yaml"
            r = subprocess.run([sys.executable, "-m", "lamsc_sdr.cli", "calibrate", *common, "--rx-uri", u,
                                "--out", str(cal)], capture_output=True, text=True, timeout=300)
            print(r.stdout.strip().splitlines()[0] if r.returncode == 0 else r.stderr, flush=True)
            cals.append(str(cal))
        runs = []
        for modality, paths in media.items():
            for p in paths:
                for n in counts:
                    uf = users_file(out / f"users_{modality}_{n}.yaml", n, modality)
                    js = out / f"{p.stem}_{n}users.json"
                    t0 = time.time()
                    r = subprocess.run([sys.executable, "-m", "lamsc_sdr.cli", "link", str(p), "--users", str(uf),
                                        *common, "--rx-uri", ",".join(uris[1:n + 1]),
                                        *([] if a.no_calibration else ["--calibration", ",".join(cals[:n])]),
                                        "--repair", str(a.repair), "--json", str(js)],
                                       capture_output=True, text=True, timeout=900)
                    res = json.loads(js.read_text()) if js.is_file() else {"messages": []}
                    runs.append({"source": p.name, "modality": modality, "users": n, "rc": r.returncode,
                                 "seconds": round(time.time() - t0, 1), "channel_uses": res.get("channel_uses"),
                                 "transmissions": res.get("transmissions"),
                                 "status": [m["status"] for m in res["messages"]],
                                 "similarity": [round(m["similarity"], 3) for m in res["messages"]],
                                 "output_similarity": [round(m["output_similarity"], 3) for m in res["messages"]],
                                 "overflow_warnings": r.stderr.count("RX overflow")})
                    print(json.dumps(runs[-1]), flush=True)
    finally:
        emu.terminate()
        emu.wait(30)
    summary = {}
    for n in counts:
        rr = [r for r in runs if r["users"] == n]
        st = [s for r in rr for s in r["status"]]
        sims = [s for r in rr for s in r["similarity"]]
        osims = [s for r in rr for s in r["output_similarity"]]
        summary[str(n)] = {"sessions": len(rr), "delivered": proportion(st.count("ok"), len(st)),
                           "text_intact": proportion(sum(s >= 0.999 for s in sims), len(sims)),
                           "output_correct": proportion(sum(s >= 0.8 for s in osims), len(osims)),
                           "public_lost": st.count("public_lost"), "private_lost": st.count("private_lost"),
                           "per_user": [proportion(sum(r["status"][i] == "ok" for r in rr if len(r["status"]) > i),
                                                   sum(len(r["status"]) > i for r in rr)) for i in range(n)]}
    manifest = evalsets.load("full", build_missing=False)
    (out / "summary.json").write_text(json.dumps({"summary": summary, "runs": runs, "emulator_snr_db": a.snr, "center_freq": a.center_freq,
                                                  "calibrated": not a.no_calibration, "uris": uris,
                                                  "repair_rounds": a.repair, "evalset_size": manifest.get("size")},
                                                 indent=1))
    for n, s in summary.items():
        d = s["delivered"]
        o = s["output_correct"]
        print(f"{n} users: delivered {d['k']}/{d['n']} [{d['ci_low']:.3f}, {d['ci_high']:.3f}], output correct "
              f"{o['k']}/{o['n']} [{o['ci_low']:.3f}, {o['ci_high']:.3f}], "
              f"public lost {s['public_lost']}, private lost {s['private_lost']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
