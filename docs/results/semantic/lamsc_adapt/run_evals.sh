#!/bin/bash
# usage: run_evals.sh CHECKPOINT TAG
cd /work/main
ck=$1; tag=$2; out=/tmp/sem/eval
L=".venv/bin/lamsc eval text --level frame --estimator ls --n 200 --checkpoint $ck"
nice -n 5 $L --sentences tests/data/europarl_small.txt --channel awgn --snr 6 --json $out/${tag}_europarl_awgn6.json
for ch in rayleigh eva tdl-a; do
  nice -n 5 $L --sentences tests/data/europarl_small.txt --channel $ch --snr 10 --json $out/${tag}_europarl_${ch}10.json
done
nice -n 5 $L --sentences tests/data/captions_heldout.txt --channel awgn --snr 6 --json $out/${tag}_captions_awgn6.json
for ch in rayleigh eva tdl-a; do
  nice -n 5 $L --sentences tests/data/captions_heldout.txt --channel $ch --snr 10 --json $out/${tag}_captions_${ch}10.json
done
nice -n 5 $L --sentences tests/data/captions_heldout.txt --channel lammsc --snr 15 --json $out/${tag}_captions_lammsc15.json
echo done
