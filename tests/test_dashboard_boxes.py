"""The box views with AppTest on the small box store (tests/box_store.py): the box debrief,
box agreement and the gold-free review queue show the library's numbers, follow the sidebar
filters and the pseudonym switch, and draw the images."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from qualitylib.box_overlay import CANVAS, LEGEND_H
from qualitylib.ingest import import_files
from qualitylib.metrics.boxes import box_summary, box_team_agreement
from qualitylib.metrics.filters import Filters
from qualitylib.pseudonyms import pseudonym
from qualitylib.store import connect

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
NAMES = ("Ann Able", "Bob Broad", "Cy Cross")

Open = Callable[[str], AppTest]


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch) -> list[MemoryMediaFileStorage]:
    """Collects the media storage AppTest creates, to read the images a page sent."""
    import streamlit.testing.v1.app_test as app_test

    made: list[MemoryMediaFileStorage] = []
    original = app_test.MemoryMediaFileStorage

    def _make(*args: object, **kwargs: object) -> MemoryMediaFileStorage:
        storage = original(*args, **kwargs)
        made.append(storage)
        return storage

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", _make)
    return made


def _open_on(db: Path, monkeypatch: pytest.MonkeyPatch) -> Open:
    monkeypatch.setenv("QUALITYLIB_DB", str(db))

    def _open(name: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60).run()
        at.switch_page(f"views/{name}.py").run()
        _assert_clean(at)
        return at

    return _open


@pytest.fixture
def open_page(box_db: Path, monkeypatch: pytest.MonkeyPatch) -> Open:
    """Run the app on the box store and switch to ``views/<name>.py``."""
    return _open_on(box_db, monkeypatch)


def _assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _choose(at: AppTest, key: str, value: object) -> None:
    at.session_state[key] = value
    at.run()
    _assert_clean(at)


def _metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r} in {[m.label for m in at.metric]}"
    return values[0]


def _texts(at: AppTest) -> str:
    parts = [c.value for c in at.caption] + [m.value for m in at.markdown]
    parts += [m.value for m in at.info] + [m.value for m in at.warning]
    parts += [o for s in at.selectbox for o in s.options]  # shown as formatted
    parts += [str(d.value.to_dict()) for d in at.dataframe]
    parts += [e.proto.imgs[0].caption for e in _images(at)]
    return "\n".join(str(p) for p in parts)


def _images(at: AppTest) -> list:
    return [e for e in at.main if type(e).__name__ == "Image"]


def _png(at: AppTest, media: list[MemoryMediaFileStorage]) -> Image.Image:
    """The first image the page shows, as sent to the browser."""
    url = _images(at)[0].proto.imgs[0].url
    content = media[-1].get_file(Path(url).name).content
    return Image.open(io.BytesIO(content)).convert("RGB")


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def test_box_debrief_shows_the_library_numbers_and_the_misses_drawn(
    open_page: Open, box_db: Path, media: list[MemoryMediaFileStorage]
) -> None:
    at = open_page("boxes")
    assert at.title[0].value == "Box debrief"
    at.selectbox(key="box_annotator").set_value("bob").run()
    _assert_clean(at)
    with connect(box_db, read_only=True) as con:
        bob = box_summary(con, Filters(annotators=("bob",))).iloc[0]
    assert _metric(at, "Precision") == _pct(bob["precision"]) == "85.7 %"
    assert _metric(at, "Recall") == _pct(bob["recall"]) == "50.0 %"
    assert _metric(at, "Mean IoU") == "0.67"
    text = _texts(at)
    assert f"n = {bob['precision_n']} boxes · 95 % CI" in text
    assert "**6** images where Bob Broad's boxes differ from the committee's." in text
    assert "Onboarding: **not enough data**" in text  # 12 committee boxes < 30
    assert len(at.get("vega_lite_chart")) == 3, "week by week, by label, errors"
    at.toggle(key="box_confusion_on").set_value(True).run()
    assert len(at.get("vega_lite_chart")) == 4, "and the detection confusion on request"
    # the latest image with errors, drawn; hidden by default: the boxes on a grey canvas
    assert _images(at)[0].proto.imgs[0].caption.startswith("img-6: Bob Broad's boxes")
    hidden = _png(at, media)
    assert hidden.size == (640, 480 + LEGEND_H)
    assert hidden.getpixel((600, 100 + LEGEND_H)) == tuple(bytes.fromhex(CANVAS[1:]))
    at.toggle(key="box_hide").set_value(False).run()
    assert _png(at, media).getpixel((600, 100 + LEGEND_H)) == (0x9E, 0xCA, 0xE1)  # the sky
    at.selectbox(key="box_image").set_value(5).run()  # img-1: also the extra car
    assert "img-1 · 08 Sep 10:01 · 1 extra (background), 1 missed" in _texts(at)
    # img-1's file is missing: the canvas, boxes drawn
    assert _png(at, media).getpixel((600, 100 + LEGEND_H)) == tuple(bytes.fromhex(CANVAS[1:]))
    assert [b.label for b in at.get("download_button")] == ["Download the images with errors (CSV)"]


def test_box_debrief_follows_the_filters(open_page: Open) -> None:
    at = open_page("boxes")
    at.selectbox(key="box_annotator").set_value("bob").run()
    _choose(at, "f_dates", (date(2026, 9, 14), date(2026, 9, 20)))
    assert "**2** images where Bob Broad's boxes differ" in _texts(at)
    assert _metric(at, "Recall") == "50.0 %"
    _choose(at, "f_dates", (date(2026, 9, 8), date(2026, 9, 22)))
    at.selectbox(key="box_annotator").set_value("cy").run()
    _choose(at, "f_labels", ["person"])
    assert "**0** images where Cy Cross's boxes differ from the committee's involving person" in (
        _texts(at)
    )
    _choose(at, "f_labels", ["truck"])
    assert "**6** images" in _texts(at)
    _choose(at, "f_teams", ["team-crowd"])
    assert at.selectbox(key="box_annotator").options == ["w1", "w2", "w3", "w4", "w5"]


def test_a_gold_free_worker_is_scored_against_the_others_consensus(
    open_page: Open, box_db: Path
) -> None:
    at = open_page("boxes")
    at.selectbox(key="box_annotator").set_value("w4").run()
    _assert_clean(at)
    with connect(box_db, read_only=True) as con:
        w4 = box_summary(con, against="consensus").set_index("annotator_id").loc["w4"]
    assert "scored against the consensus of the other workers" in _texts(at)
    assert _metric(at, "Precision") == _pct(w4["precision"]) == "50.0 %"
    assert not _images(at), "no committee: no images with errors"


def test_pseudonyms_leave_no_name_or_id_in_any_box_table_chart_or_widget(
    open_page: Open,
) -> None:
    from test_dashboard_truth import _strings  # every string a page sends, chart data included

    people = [*NAMES, "ann", "bob", "cy", "w1", "w2", "w3", "w4", "w5"]
    pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(p)}(?![\w-])" for p in people))
    at = open_page("boxes")
    at.selectbox(key="box_annotator").set_value("bob").run()
    _choose(at, "pseudonyms", True)
    picker = at.selectbox(key="box_annotator_pseudonym")
    assert picker.value == "bob" and picker.format_func("bob") == pseudonym("bob")
    assert pseudonym("bob") in _texts(at)
    at.toggle(key="box_confusion_on").set_value(True).run()
    for page in ("boxes", "agreement", "review"):
        if page != "boxes":
            at.switch_page(f"views/{page}.py").run()
            _assert_clean(at)
        if page == "agreement":
            at.toggle(key="box_consensus_on").set_value(True).run()
            assert pseudonym("w4") in _texts(at)
        found = {m[0] for text in _strings(at) for m in pattern.finditer(text)}
        assert not found, f"{page}: {sorted(found)}"


def test_box_agreement_heatmap_pairs_and_consensus(open_page: Open, box_db: Path) -> None:
    at = open_page("agreement")
    assert not at.radio, "boxes only: no Labels | Boxes switch"
    with connect(box_db, read_only=True) as con:
        team = box_team_agreement(con).iloc[0]
        loo = box_summary(con, against="consensus")
    assert _metric(at, "Detection F1") == _pct(team["f1"])
    pairs = at.selectbox[0]
    assert pairs.format_func(pairs.value).startswith("Bob Broad & Cy Cross · F1 0.0 %")
    text = _texts(at)
    assert "**6 images** boxed differently." in text
    assert _images(at)[0].proto.imgs[0].caption.startswith("img-1: Bob Broad's boxes")
    # on request, the consensus table lists every worker with a leave-one-out score
    at.toggle(key="box_consensus_on").set_value(True).run()
    _assert_clean(at)
    workers = at.dataframe[-1].value
    assert len(workers) == (loo["precision_n"] + loo["recall_n"] > 0).sum()
    assert "w4" in set(workers["Worker"])


def test_gold_free_images_with_weak_consensus_are_queued(open_page: Open) -> None:
    at = open_page("review")
    queue = at.dataframe[0].value
    assert queue["item_id"].tolist() == ["gf-3", "gf-2"]
    assert "**2** of 2 images." in _texts(at)
    assert _images(at)[0].proto.imgs[0].caption.startswith("gf-3: every object")
    _choose(at, "f_labels", ["cat"])
    assert at.dataframe[0].value["item_id"].tolist() == ["gf-2"]
    at.session_state["f_labels"] = []
    at.slider(key="box_support").set_value(0.5).run()
    assert at.dataframe[0].value.set_index("item_id").loc["gf-2", "split_labels"] == "cat"


def test_a_store_with_labels_and_boxes_offers_both(
    box_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "mixed.duckdb"
    shutil.copy(box_db, db)
    tags = tmp_path / "tags.csv"
    pd.DataFrame(
        {
            "item_id": ["img-1", "img-1", "img-2", "img-2"],
            "annotator_id": ["ann", "bob", "ann", "bob"],
            "label": ["car", "car", "car", "person"],
            "annotated_at": ["2026-09-08T10:00:00Z"] * 4,
        }
    ).to_csv(tags, index=False)
    import_files(db, "annotations", [tags])
    open_page = _open_on(db, monkeypatch)
    at = open_page("agreement")
    assert at.radio(key="agreement_kind").value == "Labels"
    assert "items** labelled differently" in _texts(at)
    at.radio(key="agreement_kind").set_value("Boxes").run()
    _assert_clean(at)
    assert "Detection F1" in [m.label for m in at.metric]
    at.switch_page("views/review.py").run()
    at.radio(key="review_kind").set_value("Boxes").run()
    _assert_clean(at)
    assert at.dataframe[0].value["item_id"].tolist() == ["gf-3", "gf-2"]


def test_weekly_report_page_counts_the_weeks_boxes(open_page: Open) -> None:
    at = open_page("reports")
    at.selectbox[0].set_value("2026-W38").run()
    _assert_clean(at)
    assert _metric(at, "Box submissions") == "21"  # img-3, img-4 by three; gf-1..3 by five
