"""Pieces of self-contained HTML pages (reports, comparisons): tables, embedded PNG plots,
numbered sections and a table of contents. Pages need no internet: images are embedded as
base64 data, the style sheet is inline.
"""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import plots

CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;
margin-top:2em}table{border-collapse:collapse;font-size:.86em;margin:.6em 0 1.2em}
th,td{border:1px solid #ccc;padding:.3em .55em;text-align:left;vertical-align:top}
th{background:#eef4fa}img{max-width:100%;margin:.4em 0}.note{color:#555;font-size:.9em}
nav.toc ol{columns:2;font-size:.92em}.summary{background:#f4f8fb;border-left:4px solid #0072B2;
padding:.5em 1em}td.num{text-align:right}
"""


@dataclass
class Section:
    """One numbered section of a page: ``id`` is its anchor, ``body`` is HTML."""

    title: str
    body: str

    @property
    def id(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")


def escape(text: object) -> str:
    return html.escape(str(text))


def paragraph(text: str, css: str = "") -> str:
    cls = f" class='{css}'" if css else ""
    return f"<p{cls}>{html.escape(text)}</p>"


def table(df: pd.DataFrame) -> str:
    """A table as HTML, values escaped; missing values shown as an em dash."""
    return df.to_html(index=False, border=0, na_rep="—", escape=True)


def png(ax, alt: str = "plot") -> str:
    """A matplotlib plot as an embedded image (the figure is closed)."""
    buf = io.BytesIO()
    with plots.style():
        ax.figure.savefig(buf, format="png")
    plots.plt.close(ax.figure)
    return _img(buf.getvalue(), alt)


def embed(path: Path) -> str:
    """A PNG file as an embedded image."""
    return _img(Path(path).read_bytes(), Path(path).stem)


def _img(data: bytes, alt: str) -> str:
    data64 = base64.b64encode(data).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data64}">'


def page(title: str, intro: str, sections: list[Section]) -> str:
    """A whole page: title, ``intro`` (HTML), a table of contents and numbered sections."""
    toc = "".join(f"<li><a href='#{s.id}'>{html.escape(s.title)}</a></li>" for s in sections)
    body = "".join(
        f"<h2 id='{s.id}'>{i}. {html.escape(s.title)}</h2>{s.body}"
        for i, s in enumerate(sections, 1)
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>{intro}"
        f"<nav class='toc'><h2>Contents</h2><ol>{toc}</ol></nav>{body}</body></html>"
    )
