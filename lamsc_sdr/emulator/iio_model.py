"""The IIO object model the emulator serves: devices, channels, attributes, and the context XML.

An attribute is a name (and its sysfs ``filename``, which gr-iio resolves with
``iio_device_identify_filename``) plus a getter returning the text a driver would print and an
optional setter that parses text and raises :class:`IioError` with a positive errno on failure,
as a kernel driver's ``store`` callback returns ``-errno``. The XML follows libiio 0.24's context
DTD (context, context-attribute, device, channel, scan-element, attribute, debug-attribute,
buffer-attribute), which is what ``PRINT`` returns and what the client parses.
"""
from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Callable
from xml.sax.saxutils import quoteattr

_DTD = ('<!DOCTYPE context [<!ELEMENT context (device | context-attribute)*>'
        '<!ELEMENT context-attribute EMPTY>'
        '<!ELEMENT device (channel | attribute | debug-attribute | buffer-attribute)*>'
        '<!ELEMENT channel (scan-element?, attribute*)><!ELEMENT attribute EMPTY>'
        '<!ELEMENT scan-element EMPTY><!ELEMENT debug-attribute EMPTY>'
        '<!ELEMENT buffer-attribute EMPTY>'
        '<!ATTLIST context name CDATA #REQUIRED version-major CDATA #REQUIRED '
        'version-minor CDATA #REQUIRED version-git CDATA #REQUIRED description CDATA #IMPLIED>'
        '<!ATTLIST context-attribute name CDATA #REQUIRED value CDATA #REQUIRED>'
        '<!ATTLIST device id CDATA #REQUIRED name CDATA #IMPLIED label CDATA #IMPLIED>'
        '<!ATTLIST channel id CDATA #REQUIRED type (input|output) #REQUIRED name CDATA #IMPLIED>'
        '<!ATTLIST scan-element index CDATA #REQUIRED format CDATA #REQUIRED scale CDATA #IMPLIED>'
        '<!ATTLIST attribute name CDATA #REQUIRED filename CDATA #IMPLIED>'
        '<!ATTLIST debug-attribute name CDATA #REQUIRED>'
        '<!ATTLIST buffer-attribute name CDATA #REQUIRED>]>')


class IioError(Exception):
    """A driver-level failure; ``code`` is the positive errno sent back as ``-code``."""

    def __init__(self, code: int, why: str = ""):
        super().__init__(f"{errno.errorcode.get(code, code)}: {why}" if why else errno.errorcode.get(code, str(code)))
        self.code = int(code)


def einval(why: str = "") -> IioError:
    return IioError(errno.EINVAL, why)


@dataclass
class Attr:
    """One attribute: ``get() -> str``; ``put(text)`` parses and applies (None: read-only)."""

    name: str
    get: Callable[[], str]
    put: Callable[[str], None] | None = None
    filename: str | None = None

    def read(self) -> str:
        return self.get()

    def write(self, text: str) -> None:
        if self.put is None:
            raise IioError(errno.EACCES, f"{self.name} is read-only")
        self.put(text)


@dataclass
class IioChannel:
    id: str
    output: bool
    attrs: dict[str, Attr] = field(default_factory=dict)
    name: str | None = None
    scan: tuple[int, str] | None = None        # (index, format such as "le:S12/16>>0")

    def add(self, attr: Attr) -> Attr:
        self.attrs[attr.name] = attr
        return attr


@dataclass
class IioDevice:
    id: str
    name: str
    channels: list[IioChannel] = field(default_factory=list)
    attrs: dict[str, Attr] = field(default_factory=dict)
    debug_attrs: dict[str, Attr] = field(default_factory=dict)
    buffer_attrs: dict[str, Attr] = field(default_factory=dict)

    def channel(self, cid: str, output: bool) -> IioChannel | None:
        for ch in self.channels:
            if ch.id == cid and ch.output == output:
                return ch
        # libiio also matches a channel by its label (name)
        for ch in self.channels:
            if ch.name == cid and ch.output == output:
                return ch
        return None

    @property
    def scan_channels(self) -> list[IioChannel]:
        return [c for c in self.channels if c.scan is not None]

    @property
    def mask_words(self) -> int:
        return (len(self.channels) + 31) // 32


def context_xml(devices: list[IioDevice], context_attrs: dict[str, str], description: str,
                version: tuple[int, int, str]) -> str:
    """The context XML iiod's PRINT returns (libiio 0.24 layout)."""
    out = ['<?xml version="1.0" encoding="utf-8"?>', _DTD,
           f'<context name="local" version-major="{version[0]}" version-minor="{version[1]}" '
           f'version-git={quoteattr(version[2])} description={quoteattr(description)} >']
    for k, v in context_attrs.items():
        out.append(f'<context-attribute name={quoteattr(k)} value={quoteattr(v)} />')
    for dev in devices:
        out.append(f'<device id={quoteattr(dev.id)} name={quoteattr(dev.name)} >')
        for ch in dev.channels:
            label = f' name={quoteattr(ch.name)}' if ch.name else ''
            out.append(f'<channel id={quoteattr(ch.id)}{label} type="{"output" if ch.output else "input"}" >')
            if ch.scan is not None:
                out.append(f'<scan-element index="{ch.scan[0]}" format={quoteattr(ch.scan[1])} />')
            for a in ch.attrs.values():
                out.append(f'<attribute name={quoteattr(a.name)} filename={quoteattr(a.filename or a.name)} />')
            out.append('</channel>')
        for a in dev.attrs.values():
            out.append(f'<attribute name={quoteattr(a.name)} />')
        for a in dev.debug_attrs.values():
            out.append(f'<debug-attribute name={quoteattr(a.name)} />')
        for a in dev.buffer_attrs.values():
            out.append(f'<buffer-attribute name={quoteattr(a.name)} />')
        out.append('</device>')
    out.append('</context>')
    return "".join(out)


# --- value parsers shared by the device model (the kernel's kstrto* / iio_str_to_fixpoint) ---------

def parse_int(text: str, what: str) -> int:
    """Strict integer, as ``kstrtoll``: ``"2400000000"`` ok, ``"2.4e9"`` or ``"1.5"`` -> EINVAL."""
    t = text.strip().rstrip("\x00").strip()
    try:
        return int(t, 10)
    except ValueError:
        raise einval(f"{what}: not an integer: {t!r}") from None


def parse_fixpoint(text: str, what: str) -> float:
    """IIO fixed point (``"-10.25"``, ``"30"``; a trailing ``" dB"`` is accepted, as the driver
    stops at the first non-digit). Exponents and non-numbers -> EINVAL."""
    t = text.strip().rstrip("\x00").strip()
    if t.endswith("dB"):
        t = t[:-2].strip()
    body = t[1:] if t[:1] in "+-" else t
    ip, _, fp = body.partition(".")
    if not (ip or fp) or not (ip.isdigit() or ip == "") or not (fp.isdigit() or fp == ""):
        raise einval(f"{what}: not a number: {text.strip()!r}")
    return float(t)


def parse_bool(text: str, what: str) -> int:
    v = parse_int(text, what)
    return 1 if v else 0
