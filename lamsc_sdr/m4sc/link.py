"""The multi-user M4SC link: one transmission, N receivers, public/private or unicast messages.

Message ids and addresses (the frame header's ``address``, :mod:`lamsc_sdr.phy.header`); users
are numbered by slot ``i`` (their order in the users file, at most 12 with public parts) and
addressed by their id ``u`` (1..31):

* public group ``g`` (users ``S``): address ``32 + g`` (group ``g``), message id
  ``(g << 12) | mask(S)`` -- bit ``i`` set for each slot in ``S``, so every group frame names
  its receivers in its CRC-protected header;
* user ``u``'s private part (shared scheme) or whole semantics (unicast): address ``u``,
  message id ``0xF000 | u``.

A receiver keeps frames addressed to its id and group frames whose mask holds its slot, drops
the rest (``foreign_frames``), and recombines only those: never another user's private part.
When there are public groups, the session announcement (which group and private ids exist:
``announcement_bits``, 16 bits a message) is modelled as delivered on a control channel; its bits are counted as channel uses of
the shared scheme (one complex symbol a bit, QPSK at rate 1/2). Lost parts are repaired by
``repair`` rounds of retransmission (the missing messages sent again; their channel uses
counted); a public part still missing is reported (``public_ok: false``, ``status:
"public_lost"``) and the user's text is what did arrive.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import ConfigError
from ..phy.header import GROUP_BASE, accepts, group_address, user_address
from ..transport import Reassembler, Sender, make_receiver, receive_stream
from .sharing import SharePlan, recombine
from .template import TaskInstruction

MODALITY_CODE = {"image": 1, "audio": 2, "video": 3}


@dataclass
class UserResult:
    user: int
    profile: str
    task: str
    public_text: str | None
    private_text: str | None
    text_received: str | None
    public_ok: bool
    private_ok: bool
    status: str
    channel_uses: int
    foreign_frames: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def broadcast_radio(cfg, channels: list[dict], seed: int):
    """A BroadcastSimRadio with the run config's channel, overridden per receiver by ``channels[i]``."""
    from ..channel.config import ChannelConfig
    from ..radio.broadcast import BroadcastSimRadio
    from ..config_base import from_mapping
    base = dataclasses.asdict(cfg.channel)
    chans = [from_mapping(ChannelConfig, {**base, **c}, prefix="channel") for c in channels]
    return BroadcastSimRadio(chans, seed=seed, sample_rate=cfg.frame.sample_rate)


PRIVATE = 0xF000
MAX_SHARED_SLOTS = 12


def session_messages(user_ids: list[int], shared: SharePlan | None, unicast: list[str] | None) -> dict:
    """``{message_id: (text, address, slots)}`` of a session (see the module docstring)."""
    msgs: dict[int, tuple[str, int, tuple[int, ...]]] = {}
    if shared is not None:
        if len(user_ids) > MAX_SHARED_SLOTS and shared.groups:
            raise ConfigError(f"public parts address at most {MAX_SHARED_SLOTS} users, got {len(user_ids)}")
        for g, (owners, units) in enumerate(shared.groups):
            mask = sum(1 << i for i in owners)
            msgs[(g << 12) | mask] = (" ".join(units), group_address(g), tuple(owners))
        texts = shared.private_texts
    else:
        texts = unicast
    for i, (u, t) in enumerate(zip(user_ids, texts)):
        if t:
            msgs[PRIVATE | u] = (t, user_address(u), (i,))
    return msgs


def _member(h, slot: int, uid: int) -> bool:
    """Receiver (slot, id) keeps header ``h``: its own address, or a group frame naming its slot."""
    if h.address >= GROUP_BASE:
        return h.message_id >> 12 != 0xF and bool((h.message_id >> slot) & 1)
    return accepts(h.address, uid)


def send_session(radio, cfg, codec, user_ids: list[int], templates: list[TaskInstruction], *,
                 shared: SharePlan | None, unicast: list[str] | None, repair: int = 1) -> dict:
    """Carry one session over ``radio`` (a BroadcastSimRadio with ``len(user_ids)`` receivers).

    Exactly one of ``shared`` (a SharePlan) and ``unicast`` (one text per user) is given.
    Returns ``{"users": [UserResult], "channel_uses", "frames", "transmissions", "announcement_bits"}``.
    """
    from ..pipeline import sim_truth
    modality = MODALITY_CODE[templates[0].modality]
    msgs = session_messages(user_ids, shared, unicast)
    sender = Sender(cfg.frame, "semantic", codec)
    rx = [{"receiver": make_receiver(cfg, "semantic"),
           "reasm": Reassembler("semantic", codec, accept=lambda h, i=i, u=u: _member(h, i, u))}
          for i, u in enumerate(user_ids)]
    wanted = [sorted(m for m, (_, _, slots) in msgs.items() if i in slots) for i in range(len(user_ids))]
    announce = 16 * len(msgs) if shared is not None and shared.groups else 0
    pending, uses, n_frames, n_tx = dict(msgs), announce, 0, 0
    for _ in range(1 + max(0, int(repair))):
        if not pending:
            break
        ids = sorted(pending)
        plan = sender.plan([pending[i][0] for i in ids], modalities=[modality] * len(ids), message_ids=ids,
                           addresses=[pending[i][1] for i in ids])
        radio.tx(plan.iq)
        n_tx += 1
        uses += int(sum(f.symbols.size for f in plan.frames))
        n_frames += len(plan.frames)
        chunk = int(cfg.radio.rx_chunk)
        for i, st in enumerate(rx):
            r, reasm = radio.receiver(i), st["reasm"]
            mine = [m for m in wanted[i] if m in pending]
            truth = sim_truth(r, plan, cfg.frame, required=cfg.estimator.kind == "perfect")
            receive_stream(r, st["receiver"], chunk=chunk, on_frame=reasm.add, truth=truth,
                           max_samples=plan.iq.size * (20 if getattr(radio, "tx_cyclic", False) else 1) + 4 * chunk,
                           until=lambda reasm=reasm, mine=mine: all(reasm.complete(m) for m in mine))
        pending = {m: v for m, v in pending.items() if any(not rx[i]["reasm"].complete(m) for i in v[2])}
    out = []
    for i, (u, t, st) in enumerate(zip(user_ids, templates, rx)):
        reasm = st["reasm"]
        pub_ids = [m for m in wanted[i] if m >> 12 != 0xF]
        priv_id = PRIVATE | u
        pubs = [reasm.text(m) for m in pub_ids]
        priv = reasm.text(priv_id) if priv_id in msgs else ""
        pub_ok, priv_ok = all(p is not None for p in pubs), priv is not None
        text = recombine(pubs, priv) if (shared is not None or priv_ok) else None
        status = "ok" if pub_ok and priv_ok else ("public_lost" if not pub_ok else "private_lost")
        cu = sum(codec_uses(sender, msgs[m][0]) for m in wanted[i])
        out.append(UserResult(u, t.user, t.task, " ".join(msgs[m][0] for m in pub_ids) if shared is not None else None,
                              msgs[priv_id][0] if priv_id in msgs else "", text, pub_ok, priv_ok, status, cu,
                              reasm.foreign))
    return {"users": out, "channel_uses": uses, "frames": n_frames, "transmissions": n_tx,
            "announcement_bits": announce}


def codec_uses(sender: Sender, text: str) -> int:
    """Complex channel uses of one message's semantic payload."""
    return int(sum(s.size for s in sender.segments(text)))
