"""M4SC -- multi-modal, multi-task, multi-user semantic communication (the testbed's third system).

After "an MLLM-based Multi-modal, Multi-task and Multi-user Semantic Communication System"
(Jiang et al., 2025), of which only the abstract is public; every interpretation is written down
in ``docs/M4SC.md``. The room, on the shared transport/PHY/radio floor:

- :mod:`.template`  the one task instruction template (task, modality, user, instruction, content)
- :mod:`.tasks`     sender extraction and receiver generation driven by it (+ :mod:`.qa`)
- :mod:`.sharing`   public/private split of many users' semantics, and recombination
- :mod:`.link`      one transmission to N receivers (group / user addresses in the frame header)
- :mod:`.kan`       a B-spline KAN layer (efficient-kan formulation) and the equal-size MLP
- :mod:`.align`     KAN/MLP projectors from image/audio/video features to the text space, retrieval
- :mod:`.joint`     joint KAN + semantic-codec fine-tuning over fading channels
- :mod:`.experiment` ``lamsc experiment m4sc``: shared vs unicast for 1..8 users
"""
