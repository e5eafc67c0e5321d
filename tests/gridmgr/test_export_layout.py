"""Office layouts (issue 14): the PPTX deck is laid out for 16:9, every shape inside the slide."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest


def test_map_slides_are_laid_out_for_16_9(tmp_path: Path) -> None:
    pytest.importorskip("pptx")
    from PIL import Image
    from pptx import Presentation

    from gridmgr.export.office import write_map_slides

    wide, tall = tmp_path / "wide.png", tmp_path / "tall.png"
    Image.new("RGB", (1600, 900), "white").save(wide)
    Image.new("RGB", (600, 900), "white").save(tall)
    out = write_map_slides(
        tmp_path / "deck.pptx",
        title="网格化管理汇报",
        date=dt.date(2026, 1, 2),
        maps=[("总览", wide), ("网格长", tall)],
    )
    prs = Presentation(str(out))
    sw, sh = int(prs.slide_width), int(prs.slide_height)
    assert abs(sw / sh - 16 / 9) < 0.01
    for slide in prs.slides:
        for shape in slide.shapes:
            assert 0 <= shape.left and shape.left + shape.width <= sw, shape.name
            assert 0 <= shape.top and shape.top + shape.height <= sh, shape.name
    # the title slide's title and date are centred on the wide slide, not on a 4:3 one
    for shape in prs.slides[0].placeholders:
        assert abs(shape.left + shape.width / 2 - sw / 2) < sw * 0.02, shape.name
    # a map fills the width or the height of the area under the title
    pics = [s for s in prs.slides[1].shapes if s.shape_type == 13]
    assert pics and pics[0].width > sw * 0.8
