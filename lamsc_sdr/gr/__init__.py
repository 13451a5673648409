"""GNU Radio blocks for lamsc frames (application code above the radio floor: they use
:mod:`lamsc_sdr.transport`). GRC block definitions: ``flowgraphs/blocks/*.block.yml``;
how to make them appear in GNU Radio Companion: docs/HARDWARE.md ("lamsc blocks in GRC")."""
