"""QR codes as inline SVG under the hub's CSP."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import segno

from national_hub.web.qr import BORDER, qr_svg

URL = "http://127.0.0.1:18080/receipt?r=" + "A" * 200 + "." + "b" * 86 + ".0123456789abcdef"


def test_svg_has_no_style_attribute() -> None:
    svg = qr_svg(URL, "回执二维码").svg
    assert "style" not in svg.lower()


def test_svg_is_one_svg_element() -> None:
    root = ElementTree.fromstring(qr_svg(URL, "回执二维码").svg)
    assert root.tag == "svg"


def test_view_box_spans_the_symbol_and_its_quiet_zone() -> None:
    qr = qr_svg(URL, "回执二维码")
    side = qr.modules + 2 * BORDER
    assert re.search(rf'viewBox="0 0 {side} {side}"', qr.svg)


def test_module_count_is_that_of_the_url_symbol() -> None:
    assert qr_svg(URL, "x").modules == segno.make(URL, error="m").symbol_size(border=0)[0]


def test_dark_modules_match_the_symbol() -> None:
    # The path draws each row's dark runs ("m<dx> <dy>h<len>", relative moves); redraw it.
    qr = qr_svg(URL, "x")
    root = ElementTree.fromstring(qr.svg)
    path = next(p for p in root.iter("path") if p.get("class") == "qr-dark").get("d", "")
    side = qr.modules + 2 * BORDER
    grid = [[False] * side for _ in range(side)]
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            for col in range(int(x), int(x + float(a))):
                grid[int(y)][col] = True
            x += float(a)
    symbol = segno.make(URL, error="m").matrix
    inner = [row[BORDER : BORDER + qr.modules] for row in grid[BORDER : BORDER + qr.modules]]
    assert inner == [[bool(v) for v in row] for row in symbol]


def test_label_names_the_image() -> None:
    root = ElementTree.fromstring(qr_svg(URL, '回执 "二维码" <1>').svg)
    assert (root.get("role"), root.get("aria-label")) == ("img", '回执 "二维码" <1>')
