#!/bin/bash
# Capture fine-tuning on an unseen profile through the GNU Radio backend (issue 16), from the repository root.
# 1. text: 12 x 80 Europarl lines (lines 200001..200960 of the shared training corpus; the codec only carries them)
# 2. 12 captures through GNU Radio's channels.channel_model with ETU (not a training profile), 30 Hz Doppler,
#    15/20/25 dB; captures 0..7 train (8 x 48 frames), 8..11 held out (269 slots)
# 3. held-out NMSE of the shipped checkpoint, fine-tuning (400 steps), held-out NMSE of the result, paired comparison
set -e
W=${W:-/tmp/cge16}; mkdir -p $W/txt $W/gr_train $W/gr_held; out=docs/results/cge
zcat /work/shared/data/europarl_en_train.txt.gz | sed -n 200001,201200p > $W/txt/all.txt
for i in $(seq 0 11); do sed -n "$((i*80+1)),$((i*80+80))p" $W/txt/all.txt > $W/txt/m$i.txt; done
for i in $(seq 0 11); do
  if [ $i -lt 8 ]; then d=$W/gr_train; else d=$W/gr_held; fi
  lamsc capture $d/etu$i $W/txt/m$i.txt --radio gnuradio --snr $(( (i % 3) * 5 + 15 )) --codec semantic \
      --seed $((300+i)) --set channel.model=etu --set channel.doppler_hz=30
done
E="ls,lmmse-mismatched,lmmse-robust,lmmse-est,cgan"
lamsc eval estimators --captures $W/gr_held --estimators $E --json $out/captures_gr_etu_held_shipped.json
lamsc train cge --source $W/gr_train --init shipped --config lamsc_sdr/estimation/checkpoints/cge_default.yaml \
    --steps 400 --set train.val_every=50 --set train.lr=5e-4 --out $out/cge_gr_etu_captures.pt --device cpu --quiet
lamsc eval estimators --captures $W/gr_held --estimators $E --checkpoint $out/cge_gr_etu_captures.pt \
    --json $out/captures_gr_etu_held_finetuned.json
python scripts/cge_paired_captures.py $W/gr_held shipped $out/cge_gr_etu_captures.pt --json $out/captures_gr_etu_paired.json
