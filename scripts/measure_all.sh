#!/usr/bin/env bash
# Reproduces the figures in docs/RESULTS.md into docs/results/ (about an hour on 2 cores).
# Usage: bash scripts/measure_all.sh [SECTION...]   sections: phy est sem radio mma kb paper bench
set -euo pipefail
cd "$(dirname "$0")/.."
L=".venv/bin/lamsc"
R=docs/results
sections=${*:-phy est sem radio mma kb paper bench}
mkdir -p $R/phy $R/estimation $R/semantic $R/radio $R/mma $R/kb $R/paper $R/bench
for s in $sections; do case $s in
phy)
  $L eval phy --channel awgn --modulation qpsk --snr 0:12:2 --frames 50 --json $R/phy/eval_phy_awgn.json --plot $R/phy/eval_phy_awgn.png
  $L eval phy --channel rayleigh --doppler 300 --csi perfect,ls,lmmse,cgan --snr 0:20:5 --frames 100 --json $R/phy/eval_phy_rayleigh300.json --plot $R/phy/eval_phy_rayleigh300.png
  $L eval phy --channel lammsc --csi perfect,ls,lmmse,cgan --snr 0:20:5 --frames 100 --json $R/phy/eval_phy_lammsc.json --plot $R/phy/eval_phy_lammsc.png
  $L eval sync --snr=-6:12:2 --frames 100 --json $R/phy/eval_sync.json --plot $R/phy/eval_sync.png
  $L bench phy --json $R/bench/bench_phy.json ;;
est)
  for p in lammsc epa tdl-a tdl-c eva veh-a tdl-d; do
    $L eval estimators --channel $p --snr 0:30:5 --estimators ls,lmmse,lmmse-mismatched,cgan,perfect --n 1000 \
      --json $R/estimation/eval_$p.json --plot $R/estimation/eval_$p.png
  done
  $L bench estimators --json $R/bench/bench_estimators.json ;;
sem)
  S=tests/data/europarl_small.txt
  $L eval text --sentences $S --n 600 --channel awgn --snr 0:18:3 --estimator ls --json $R/semantic/eval_text_awgn.json --plot $R/semantic/eval_text_awgn.png
  for c in rayleigh eva tdl-a; do
    $L eval text --sentences $S --n 600 --channel $c --snr 10 --estimator ls --json $R/semantic/eval_text_${c}_10db.json
  done
  $L bench semantic --json $R/bench/bench_semantic.json ;;
radio)
  $L eval fer --snr-range=3:8:1 --frames 300 --json $R/radio/fer_sim_vs_gnuradio.json
  $L bench soak --frames 10000 --json $R/radio/soak_gnuradio.json ;;
mma)
  $L eval mma --json $R/mma/eval_mma.json ;;
kb)
  $L eval lkb --cases tests/data/lkb_cases.yaml --backend rules --json $R/kb/rules.json
  $L eval lkb --cases tests/data/lkb_cases.yaml --backend offline --json $R/kb/offline.json ;;
paper)
  for e in fig4 fig5 ablation compression; do
    $L experiment $e --size full --json $R/paper/$e.json --plot $R/paper/$e.png
  done ;;
bench)
  $L bench pipeline --json $R/bench/bench_pipeline.json ;;
*) echo "unknown section $s" >&2; exit 2 ;;
esac; done
