"""Seeded box-drawing project of the demo store: Pillow street scenes, a committee, personas.

The demo store holds it beside the tagging team (:mod:`qualitylib.demo`), as its own team
(``team-boxes``) with its own people and images, so the tag team's numbers do not move. Over
the same 12-week campaign every persona draws boxes on control images (the committee's
reference set, mixed into production work) and on work images each shared with another
persona; a 5-worker crowd batch has no committee boxes at all (gold-free consensus). The
images are drawn with Pillow (sky, road, cars, trucks, people, dogs: each object inside its
committee box) and written next to the store, so the overlays show real pictures without any
download; ``items.uri`` holds their absolute paths.

Box model, per committee object of true box ``(x0, y0, x1, y1)``, width ``w``, height ``h``:
it is missed with probability ``miss`` (+ ``miss_small`` when its area is below 32^2 px, and
``drift_miss`` on ``drift_label`` from ``drift_week``); a truck is called a car with
probability ``confuse``; the box drawn is padded by ``pad * w`` (``pad * h``) on every side
and each edge moved by Normal(0, ``jitter * w``) (``h``). About ``extra`` stray boxes per
image are added. A learner's ``miss``, ``jitter`` and ``confuse`` start at ``start_*`` and
converge with e-folding time ``learning_weeks``. Everything is seeded: same seed, same store.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from qualitylib.demo import CAMPAIGN_START, DRIFT_WEEK, N_WEEKS

__all__ = [
    "BOX_TEAM",
    "CROWD",
    "LABELS",
    "TEAM_NAME",
    "BoxPersona",
    "DemoBoxes",
    "build",
    "generate",
    "images_folder",
    "steady_team",
]

TEAM_NAME = "team-boxes"
LABELS = ("car", "truck", "person", "dog")
WIDTH, HEIGHT = 320, 240
HORIZON = 96  # sky above, road below; objects stand on the road
# (min width, max width, height / width) of each label at full size
SHAPES = {
    "car": (40, 90, 0.5),
    "truck": (70, 140, 0.6),
    "person": (12, 26, 2.4),
    "dog": (22, 44, 0.6),
}
LABEL_WEIGHTS = (0.35, 0.2, 0.3, 0.15)
FAR_SHARE = 0.35  # objects far away: drawn at FAR_SCALE of their size (mostly COCO-small)
FAR_SCALE = (0.35, 0.55)
OBJECTS_PER_IMAGE = (1, 6)  # uniform, inclusive; EMPTY_SHARE of control images hold none
EMPTY_SHARE = 0.05
N_REFERENCE_IMAGES = 120  # the committee's set, decided the week before the campaign
CONTROLS_PER_WEEK = 10  # control images each persona draws on per week (production)
TRAINING_PER_WEEK = 15  # reference images a newcomer draws on per training week
WORK_PER_WEEK = 24  # work images per week, each drawn by two personas
CROWD_IMAGES = 40  # the gold-free batch: every crowd worker draws on every image
CROWD_WEEK = 6
COMMITTEE_ID = "c01"
STREAM = 30  # the box project's random stream is (seed, STREAM): the tag team's is untouched
Box = tuple[str, float, float, float, float]  # label, x_min, y_min, x_max, y_max

PAINT = {
    "sky": (186, 214, 235),
    "road": (128, 132, 128),
    "verge": (120, 160, 96),
    "car": (52, 101, 164),
    "truck": (164, 52, 48),
    "person": (236, 150, 40),
    "dog": (120, 84, 48),
    "wheel": (30, 30, 30),
    "window": (210, 230, 245),
    "skin": (240, 200, 170),
}


@dataclass(frozen=True)
class BoxPersona:
    """How one person draws boxes (see the module docstring)."""

    annotator_id: str
    name: str
    persona: str
    miss: float = 0.02
    miss_small: float = 0.0
    jitter: float = 0.03
    pad: float = 0.0
    confuse: float = 0.0
    extra: float = 0.03
    start_week: int = -20
    training_weeks: int = 0
    start_miss: float | None = None
    start_jitter: float | None = None
    start_confuse: float | None = None
    learning_weeks: float = 1.5
    drift_label: str | None = None
    drift_week: int = DRIFT_WEEK
    drift_miss: float = 0.0
    notes: str = ""

    def rates(self, week: int) -> tuple[float, float, float]:
        """``miss, jitter, confuse`` in campaign week ``week`` (a learner converges)."""
        if self.start_miss is None:
            return self.miss, self.jitter, self.confuse
        settled = 1 - np.exp(-max(week - self.start_week, 0) / self.learning_weeks)

        def towards(start: float | None, end: float) -> float:
            return float(end + (1 - settled) * ((start if start is not None else end) - end))

        return (
            towards(self.start_miss, self.miss),
            towards(self.start_jitter, self.jitter),
            towards(self.start_confuse, self.confuse),
        )


# fmt: off
BOX_TEAM: tuple[BoxPersona, ...] = (
    BoxPersona("box01", "Ines Duarte", "expert", miss=0.01, jitter=0.025, extra=0.01,
               notes="careful expert: tight boxes, misses almost nothing"),
    BoxPersona("box02", "Jonas Weber", "loose", pad=0.13, jitter=0.06,
               notes="loose boxer: boxes well around the object (IoU about 0.6)"),
    BoxPersona("box03", "Keiko Tanaka", "small_misser", miss_small=0.75,
               notes="misses small (far away) objects"),
    BoxPersona("box04", "Luis Ortega", "confuser", confuse=0.9,
               notes="calls trucks cars"),
    BoxPersona("box05", "Maya Cohen", "learner", start_week=0, training_weeks=2,
               start_miss=0.35, start_jitter=0.12, start_confuse=0.35, learning_weeks=2.0,
               notes="new hire: trains two weeks on the committee's images, then converges"),
    BoxPersona("box06", "Noah Fischer", "drifter", drift_label="person", drift_miss=0.7,
               notes="aligned, then stops boxing people"),
)
CROWD: tuple[BoxPersona, ...] = (
    BoxPersona("w01", "Crowd worker 1", "crowd", miss=0.05, jitter=0.05),
    BoxPersona("w02", "Crowd worker 2", "crowd", miss=0.05, jitter=0.05),
    BoxPersona("w03", "Crowd worker 3", "crowd", miss=0.05, jitter=0.05),
    BoxPersona("w04", "Crowd worker 4", "crowd", miss=0.05, jitter=0.05),
    BoxPersona("w05", "Crowd worker 5", "crowd_sloppy", miss=0.45, jitter=0.08, extra=0.6,
               notes="sloppy crowd worker: misses half, adds stray boxes"),
)
# fmt: on


@dataclass(frozen=True)
class DemoBoxes:
    """The box project as import tables (``items`` without ``uri`` until written)."""

    items: pd.DataFrame
    annotators: pd.DataFrame
    reference: pd.DataFrame
    boxes: pd.DataFrame
    personas: pd.DataFrame
    scenes: pd.DataFrame  # every object to draw: item_id, label, x_min, y_min, x_max, y_max


def images_folder(db_path: str | Path) -> Path:
    """Where the demo writes the images of the store ``db_path``: ``<folder>/<name>_images``."""
    path = Path(db_path).resolve()
    return path.parent / f"{path.stem}_images"


# ---------------------------------------------------------------------------------------------
# Scenes


def _scene(rng: np.random.Generator, n_objects: int) -> list[Box]:
    """Up to ``n_objects`` objects on the road, barely overlapping: (label, x0, y0, x1, y1);
    far (small) ones stand near the horizon."""
    placed: list[Box] = []
    for _ in range(n_objects):
        label = LABELS[rng.choice(len(LABELS), p=LABEL_WEIGHTS)]
        low, high, ratio = SHAPES[label]
        far = rng.random() < FAR_SHARE
        scale = rng.uniform(*FAR_SCALE) if far else 1.0
        w = round(rng.uniform(low, high) * scale)
        h = max(round(w * ratio * rng.uniform(0.9, 1.1)), 4)
        for _ in range(20):  # a few tries at a free spot
            x0 = float(rng.integers(0, WIDTH - w))
            bottom = rng.integers(HORIZON + 12, HORIZON + 60) if far else rng.integers(150, HEIGHT)
            y0 = float(max(bottom - h, 0))
            box = (x0, y0, x0 + w, y0 + h)
            if all(_overlap(box, other[1:]) < 0.05 for other in placed):
                placed.append((label, *box))
                break
    return placed


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(min(a[2], b[2]) - max(a[0], b[0]), 0)
    h = max(min(a[3], b[3]) - max(a[1], b[1]), 0)
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _draw(objects: list[Box], path: Path) -> None:
    """One scene as a PNG: sky, verge, road, then each object inside its box (Pillow)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), PAINT["sky"])
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, HORIZON, WIDTH, HORIZON + 10), fill=PAINT["verge"])
    pen.rectangle((0, HORIZON + 10, WIDTH, HEIGHT), fill=PAINT["road"])
    for label, x0, y0, x_max, y_max in sorted(objects, key=lambda o: o[4]):  # far ones first
        x1, y1 = x_max - 1, y_max - 1
        w, h = x1 - x0, y1 - y0
        if label in ("car", "truck"):
            body_top = y0 + h * (0.3 if label == "car" else 0.0)
            pen.rounded_rectangle((x0, body_top, x1, y1 - h * 0.2), radius=max(w // 10, 1),
                                  fill=PAINT[label])  # fmt: skip
            if label == "car":
                pen.rectangle((x0 + w * 0.2, y0, x1 - w * 0.2, body_top), fill=PAINT[label])
                pen.rectangle((x0 + w * 0.28, y0 + h * 0.08, x1 - w * 0.28, body_top),
                              fill=PAINT["window"])  # fmt: skip
            else:
                pen.rectangle((x1 - w * 0.25, y0 + h * 0.1, x1 - w * 0.05, y0 + h * 0.4),
                              fill=PAINT["window"])  # fmt: skip
            r = h * 0.2
            for cx in (x0 + w * 0.22, x1 - w * 0.22):
                pen.ellipse((cx - r, y1 - 2 * r, cx + r, y1), fill=PAINT["wheel"])
        elif label == "person":
            pen.ellipse((x0 + w * 0.2, y0, x1 - w * 0.2, y0 + h * 0.2), fill=PAINT["skin"])
            pen.rectangle((x0, y0 + h * 0.2, x1, y0 + h * 0.62), fill=PAINT["person"])
            pen.rectangle((x0 + w * 0.15, y0 + h * 0.62, x1 - w * 0.15, y1), fill=PAINT["wheel"])
        else:  # dog
            pen.ellipse((x0, y0 + h * 0.25, x1 - w * 0.2, y1 - h * 0.25), fill=PAINT["dog"])
            pen.ellipse((x1 - w * 0.35, y0, x1, y0 + h * 0.5), fill=PAINT["dog"])
            for lx in (x0 + w * 0.15, x1 - w * 0.4):
                pen.rectangle((lx, y1 - h * 0.35, lx + max(w * 0.08, 1), y1), fill=PAINT["dog"])
    image.save(path, format="PNG")


# ---------------------------------------------------------------------------------------------
# Drawing boxes


def _when(rng: np.random.Generator, week: int, n: int) -> np.ndarray:
    """``n`` sorted working times (Monday-Friday, 8:00-18:00 UTC) in campaign week ``week``."""
    day = rng.integers(0, 5, n)
    seconds = rng.uniform(8 * 3600, 18 * 3600, n)
    start = CAMPAIGN_START.tz_localize(None) + pd.Timedelta(weeks=week)
    return np.sort(start + pd.to_timedelta(day * 86400 + seconds, unit="s")).astype("datetime64[s]")


def _submission(
    rng: np.random.Generator, person: BoxPersona, week: int, objects: list[Box]
) -> list[Box]:
    """The boxes ``person`` draws in ``week`` on an image holding ``objects``."""
    miss, jitter, confuse = person.rates(week)
    drawn: list[Box] = []
    for true_label, x_min, y_min, x_max, y_max in objects:
        w, h = x_max - x_min, y_max - y_min
        p_miss = miss + (person.miss_small if w * h < 32**2 else 0.0)
        if person.drift_label == true_label and week >= person.drift_week:
            p_miss += person.drift_miss
        if rng.random() < p_miss:
            continue
        label = "car" if true_label == "truck" and rng.random() < confuse else true_label
        pad = person.pad * rng.uniform(0.5, 1.5)  # loose by more or less on each box
        noise = rng.normal(0.0, jitter, 4) * np.array([w, h, w, h])
        x0 = min(max(x_min - pad * w + noise[0], 0), WIDTH - 1)
        y0 = min(max(y_min - pad * h + noise[1], 0), HEIGHT - 1)
        x1 = min(max(x_max + pad * w + noise[2], x0 + 1), WIDTH)
        y1 = min(max(y_max + pad * h + noise[3], y0 + 1), HEIGHT)
        drawn.append((label, *(round(float(v), 1) for v in (x0, y0, x1, y1))))
    for _ in range(rng.poisson(person.extra)):
        w, h = rng.integers(8, 40, 2)
        x0, y0 = rng.integers(0, WIDTH - w), rng.integers(HORIZON, HEIGHT - h)
        label = LABELS[rng.integers(len(LABELS))]
        drawn.append((label, float(x0), float(y0), float(x0 + w), float(y0 + h)))
    return drawn


def steady_team(
    n: int, persona: BoxPersona = BoxPersona("", "", "steady")
) -> tuple[BoxPersona, ...]:
    """``n`` people drawing as ``persona`` (s01, s02, ...): the null model of box drift."""
    return tuple(
        replace(persona, annotator_id=f"s{i + 1:02d}", name=f"Steady {i + 1}") for i in range(n)
    )


def generate(
    seed: int = 0,
    team: Sequence[BoxPersona] = BOX_TEAM,
    crowd: Sequence[BoxPersona] = CROWD,
) -> DemoBoxes:
    """The box project of seed ``seed`` as tables (no image written, nothing imported):
    ``team`` draws on controls and shared work images, ``crowd`` on the gold-free batch."""
    rng = np.random.default_rng([seed, STREAM])
    groups = (
        [(f"box-ref-{i:03d}", "reference") for i in range(N_REFERENCE_IMAGES)]
        + [(f"box-w{w:02d}-{i:02d}", "work") for w in range(N_WEEKS) for i in range(WORK_PER_WEEK)]
        + [(f"box-crowd-{i:02d}", "crowd") for i in range(CROWD_IMAGES)]
    )
    by_item: dict[str, list[Box]] = {}
    for item_id, kind in groups:
        empty = kind == "reference" and rng.random() < EMPTY_SHARE
        n = 0 if empty else int(rng.integers(*OBJECTS_PER_IMAGE, endpoint=True))
        by_item[item_id] = _scene(rng, n)
    scene = pd.DataFrame(
        [(item, *o) for item, objects in by_item.items() for o in objects],
        columns=["item_id", "label", "x_min", "y_min", "x_max", "y_max"],
    )
    reference_ids = [item for item, kind in groups if kind == "reference"]
    decided = CAMPAIGN_START.tz_localize(None) - pd.Timedelta(weeks=1)

    rows: list[tuple[object, ...]] = []

    def submit(person: BoxPersona, item: str, at: np.datetime64, week: int, phase: str) -> None:
        drawn = _submission(rng, person, week, by_item[item])
        batch = f"{TEAM_NAME}-w{week + 1:02d}"
        if not drawn:
            rows.append((item, person.annotator_id, None, None, None, None, None, at, phase, batch))
        for box in drawn:
            rows.append((item, person.annotator_id, *box, at, phase, batch))

    for person in team:
        order = rng.permutation(reference_ids)
        used = 0
        for week in range(max(person.start_week, 0), N_WEEKS):
            training = week < person.start_week + person.training_weeks
            n = TRAINING_PER_WEEK if training else CONTROLS_PER_WEEK
            items = [order[(used + i) % len(order)] for i in range(n)]
            used += n
            for item, at in zip(items, _when(rng, week, n), strict=True):
                submit(person, item, at, week, "training" if training else "production")
    # work images: each drawn by two personas; every persona gets 8 a week
    workers = list(team)
    for week in range(N_WEEKS):
        slots: list[tuple[BoxPersona, str]] = []
        for i in range(WORK_PER_WEEK):
            a = i % len(workers)
            b = (a + 1 + (i // len(workers)) % (len(workers) - 1)) % len(workers)
            item = f"box-w{week:02d}-{i:02d}"
            slots += [(workers[a], item), (workers[b], item)]
        for person in workers:
            mine = [item for who, item in slots if who is person]
            if week < person.start_week + person.training_weeks:
                continue  # a trainee draws no production work yet
            for item, at in zip(mine, _when(rng, week, len(mine)), strict=True):
                submit(person, item, at, week, "production")
    for person in crowd:
        items = [item for item, kind in groups if kind == "crowd"]
        for item, at in zip(items, _when(rng, CROWD_WEEK, len(items)), strict=True):
            submit(person, item, at, CROWD_WEEK, "production")

    boxes = pd.DataFrame(
        rows,
        columns=["item_id", "annotator_id", "label", "x_min", "y_min", "x_max", "y_max",
                 "annotated_at", "phase", "batch"],
    )  # fmt: skip
    reference = scene[scene["item_id"].isin(reference_ids)].copy()
    empty_refs = sorted(set(reference_ids) - set(reference["item_id"]))
    reference = pd.concat(
        [reference, pd.DataFrame({"item_id": empty_refs})], ignore_index=True
    ).sort_values("item_id", kind="stable", ignore_index=True)
    reference["decided_at"] = decided
    reference["decided_by"] = COMMITTEE_ID
    people = [*team, *crowd]
    annotators = pd.DataFrame(
        {
            "annotator_id": [p.annotator_id for p in people],
            "name": [p.name for p in people],
            "team": TEAM_NAME,
            "role": "annotator",
            "started_at": [
                CAMPAIGN_START.tz_localize(None) + pd.Timedelta(weeks=p.start_week) for p in people
            ],
        }
    )
    personas = pd.DataFrame(
        {
            "annotator_id": [p.annotator_id for p in people],
            "persona": [p.persona for p in people],
            "drift_start": [
                CAMPAIGN_START.tz_localize(None) + pd.Timedelta(weeks=p.drift_week)
                if p.drift_label
                else pd.NaT
                for p in people
            ],
            "drift_label": [p.drift_label for p in people],
            "notes": [p.notes for p in people],
        }
    )
    items = pd.DataFrame(
        {"item_id": [item for item, _ in groups], "width": WIDTH, "height": HEIGHT}
    )
    return DemoBoxes(items, annotators, reference, boxes, personas, scene)


def labels_table() -> pd.DataFrame:
    """The box classes, declared beside the tag labels (a store has one label set)."""
    return pd.DataFrame(
        {
            "label": list(LABELS),
            "rank": range(len(LABELS)),
            "color": [_hex(PAINT[label]) for label in LABELS],
        }
    )


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{v:02X}" for v in rgb)


def build(
    db_path: str | Path,
    seed: int = 0,
    team: Sequence[BoxPersona] = BOX_TEAM,
    crowd: Sequence[BoxPersona] = CROWD,
    draw: bool = True,
) -> DemoBoxes:
    """Draw the images next to the store (unless ``draw`` is False: simulations), import the
    box project through ``import_files`` (labels, annotators, items, committee boxes, boxes)
    and keep the personas as ``demo_box_personas``."""
    from qualitylib.ingest import import_files
    from qualitylib.store import connect

    data = generate(seed, team, crowd)
    folder = images_folder(db_path)
    if draw:
        folder.mkdir(parents=True, exist_ok=True)
        by_item: dict[str, list[Box]] = {item: [] for item in data.items["item_id"]}
        for item, *box in data.scenes.itertuples(index=False):
            by_item[item].append(tuple(box))  # type: ignore[arg-type]
        for item, objects in by_item.items():
            _draw(objects, folder / f"{item}.png")
    items = data.items.assign(uri=[str(folder / f"{item}.png") for item in data.items["item_id"]])
    with tempfile.TemporaryDirectory(prefix="qualitylib-demo-boxes-") as tmp:
        for kind, frame in (
            ("labels", labels_table()),
            ("annotators", data.annotators),
            ("items", items[["item_id", "uri", "width", "height"]]),
            ("reference-boxes", data.reference),
            ("boxes", data.boxes),
        ):
            path = Path(tmp) / f"{kind}.parquet"
            frame.to_parquet(path, index=False)
            import_files(db_path, kind, [path])
    with connect(db_path) as con:
        con.register("box_personas_df", data.personas)
        con.execute(
            """CREATE OR REPLACE TABLE demo_box_personas AS
               SELECT annotator_id, persona, drift_start::TIMESTAMP AS drift_start, drift_label,
                      notes
               FROM box_personas_df"""
        )
        con.unregister("box_personas_df")
    return data
