"""A small box store with known answers, for the box views, the overlays and the report.

Six committee images (a car and a person each, decided 2026-09-01) boxed in three weeks by:
``ann`` (a perfect copy), ``bob`` (the car shifted right by 40 px: IoU 2/3; every person
missed; one extra car on img-1) and ``cy`` (the car called a truck: wrong class). img-1's
file is missing (a placeholder). Three gold-free images boxed by five workers ``w1``..``w5``:
gf-1 all agree; gf-2 splits 3/5 (dog) and 2/5 (cat); gf-3 three lone boxes and two empty
submissions (no object a majority agrees on).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from qualitylib.ingest import import_files

CAR = (40, 40, 240, 200)
PERSON = (300, 100, 400, 380)
DAYS = {1: "2026-09-08", 2: "2026-09-08", 3: "2026-09-15", 4: "2026-09-15", 5: "2026-09-22"}
DAYS[6] = "2026-09-22"


def _scene(path: Path, boxes: list[tuple[int, int, int, int]]) -> None:
    """A 640 x 480 picture: sky, ground and a filled shape per object."""
    image = Image.new("RGB", (640, 480), "#9ecae1")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 300, 640, 480), fill="#74c476")
    for box in boxes:
        draw.rectangle(box, fill="#636363")
    image.save(path)


def _csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def build(folder: Path) -> Path:
    """Write the images and CSV files into ``folder`` and import them into ``folder/box.duckdb``."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "box.duckdb"
    items = []
    for k in range(1, 7):
        path = folder / f"img-{k}.png"
        if k != 1:
            _scene(path, [CAR, PERSON])
        items.append(f"img-{k},{path},640,480")
    gold_free = {"gf-1": [(100, 100, 300, 300)], "gf-2": [(50, 50, 150, 150), (400, 50, 500, 150)]}
    gold_free["gf-3"] = [(10, 10, 60, 60), (200, 200, 260, 260), (400, 10, 450, 60)]
    for item, shapes in gold_free.items():
        _scene(folder / f"{item}.png", shapes)
        items.append(f"{item},{folder / f'{item}.png'},640,480")
    box = "item_id,annotator_id,label,x_min,y_min,x_max,y_max,annotated_at"
    rows = []
    for k, day in DAYS.items():
        at = f"{day}T10:0{k % 10}:00Z"
        rows += [f"img-{k},ann,car,{','.join(map(str, CAR))},{at}"]
        rows += [f"img-{k},ann,person,{','.join(map(str, PERSON))},{at}"]
        rows += [f"img-{k},bob,car,80,40,280,200,{at}"]
        rows += [f"img-{k},cy,truck,{','.join(map(str, CAR))},{at}"]
        rows += [f"img-{k},cy,person,{','.join(map(str, PERSON))},{at}"]
    rows += ["img-1,bob,car,500,300,600,400,2026-09-08T10:01:00Z"]
    at = "2026-09-16T09:00:00Z"
    for w, jitter in zip(("w1", "w2", "w3", "w4", "w5"), (0, 2, -2, 1, -1), strict=True):
        rows += [f"gf-1,{w},car,{100 + jitter},100,{300 + jitter},300,{at}"]
    rows += [f"gf-2,{w},dog,50,50,150,150,{at}" for w in ("w1", "w2", "w3")]
    rows += [f"gf-2,{w},cat,400,50,500,150,{at}" for w in ("w4", "w5")]
    for w, shape in zip(("w1", "w2", "w3"), gold_free["gf-3"], strict=True):
        rows += [f"gf-3,{w},car,{','.join(map(str, shape))},{at}"]
    rows += [f"gf-3,{w},,,,,,{at}" for w in ("w4", "w5")]
    reference = [
        f"img-{k},{label},{','.join(map(str, shape))},2026-09-01T00:00:00Z"
        for k in range(1, 7)
        for label, shape in (("car", CAR), ("person", PERSON))
    ]
    people = ["ann,Ann Able,team-boxes", "bob,Bob Broad,team-boxes", "cy,Cy Cross,team-boxes"]
    people += [f"w{k},,team-crowd" for k in range(1, 6)]
    import_files(
        db,
        "labels",
        [_csv(folder / "labels.csv", "label", ["car", "person", "truck", "dog", "cat"])],
    )
    import_files(db, "items", [_csv(folder / "items.csv", "item_id,uri,width,height", items)])
    import_files(db, "annotators", [_csv(folder / "people.csv", "annotator_id,name,team", people)])
    import_files(
        db,
        "reference-boxes",
        [_csv(folder / "ref.csv", "item_id,label,x_min,y_min,x_max,y_max,decided_at", reference)],
    )
    import_files(db, "boxes", [_csv(folder / "boxes.csv", box, rows)])
    return db
