"""LAM-SC: image-native semantic communication (Jiang et al., "Large AI Model-Based Semantic
Communications"), the project's second system, on the shared radio floor.

::

    SENDER    image (128x128x3) --SKB: segmenter--> K segments --ASI (channel + spatial attention,
              or a human prompt)--> selected segments --merge--> semantic-aware image
              --semantic encoder (2x conv+pool)--> features (32, 29, 29)
              --ASC mask net (2x conv+ReLU) -> 0/1 mask over positions; masked positions not sent
              --channel encoder (per-position MLP)--> unit-power complex symbols
              --OFDM frames + pilots (transport floor)--> radio
    RECEIVER  radio --sync, estimate (LS | LMMSE | CGE), equalize--> symbols
              --channel decoder--> features (masked positions filled)--semantic decoder
              (2x upsample+deconv)--> recovered image

Modules: ``images`` (training/evaluation photographs, disjoint by hash), ``segment`` (segmenter
backends: real SAM from a checkpoint, and the offline classical stand-in), ``asi`` (attention
integration), ``experience`` (the ASI's labelled experience base), ``model`` (SC + ASC modules and
the numpy-facing codec), ``train``, ``jpeg`` (the digital baseline), ``link`` (frames over a radio),
``evaluate`` and ``bench``.

Nothing here imports LAM-MSC's rooms (pipeline, semantic, mma, kb): only phy, channel,
estimation, radio and transport.
"""
from __future__ import annotations

SIZE = 128                      # images are SIZE x SIZE x 3
STAND_IN = ("stand-in for SAM: scikit-image SLIC superpixels + region-adjacency merging, ranked by "
            "spectral-residual saliency (no SAM weights ship offline)")
