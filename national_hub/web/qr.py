"""QR codes as inline SVG, drawn by segno, for a page served under a strict CSP."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

import segno

# A phone camera reads a receipt's QR code off paper that may be creased or faded; level M
# restores 15% of the symbol and keeps a ~300-character link at version 11-13 (61-69 modules).
ERROR_LEVEL = "m"
# The quiet zone the standard asks for around the symbol, in modules.
BORDER = 4


@dataclass(frozen=True, slots=True)
class QrSvg:
    """An <svg> element (no XML declaration, no style attribute) and its size in modules."""

    svg: str
    modules: int


def qr_svg(text: str, label: str, *, css_class: str = "qr") -> QrSvg:
    """The QR code of text as an <svg> scaled by CSS (viewBox only, one unit per module).

    segno writes colours as fill/stroke attributes, never `style=`, so the page's
    Content-Security-Policy (style-src 'self', no 'unsafe-inline') allows it. The white
    background is drawn in the SVG itself, so the code stays readable on a dark page and in
    print. role="img" with the label names it for screen readers; segno escapes the <title>.
    """
    code = segno.make(text, error=ERROR_LEVEL, micro=False)
    svg = code.svg_inline(
        scale=1,
        border=BORDER,
        omitsize=True,
        title=label,
        svgclass=css_class,
        lineclass=f"{css_class}-dark",
        dark="#000",
        light="#fff",
    )
    svg = svg.replace("<svg ", f'<svg role="img" aria-label={quoteattr(label)} ', 1)
    return QrSvg(svg=svg, modules=int(code.symbol_size(scale=1, border=0)[0]))
