"""The SEO tags of a page (title, meta description, canonical, Open Graph, robots, h1
count) and the check of them against a :class:`MetaExpect`.

HTTP steps read the tags from the HTML they receive; browser steps read the same
fields from the rendered DOM (``BROWSER_SCRIPT``), so one check serves both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from leadwatch.synthetic.journey import MetaExpect


@dataclass
class PageMeta:
    title: str = ""
    description: str = ""
    canonical: str = ""
    robots: str = ""
    open_graph: dict[str, str] = field(default_factory=dict)
    h1: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PageMeta:
        return cls(**{k: data[k] for k in ("title", "description", "canonical", "robots",
                                            "open_graph", "h1")})


class _TagReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta = PageMeta()
        self._in_title = False
        self._title: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "title" and not self._title:
            self._in_title = True
        elif tag == "h1":
            self.meta.h1 += 1
        elif tag == "link" and "canonical" in a.get("rel", "").lower().split():
            self.meta.canonical = self.meta.canonical or a.get("href", "").strip()
        elif tag == "meta":
            name = a.get("name", "").lower()
            prop = a.get("property", "").lower()
            content = a.get("content", "").strip()
            if name == "description":
                self.meta.description = self.meta.description or content
            elif name == "robots":
                self.meta.robots = self.meta.robots or content
            elif prop.startswith("og:"):
                self.meta.open_graph.setdefault(prop, content)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)

    def close(self) -> None:
        super().close()
        self.meta.title = "".join(self._title).strip()


def parse_meta(html: str) -> PageMeta:
    reader = _TagReader()
    reader.feed(html)
    reader.close()
    return reader.meta


# Evaluated in the page by browser steps: the same fields from the rendered DOM.
BROWSER_SCRIPT = """() => {
  const attr = (sel, a) => { const e = document.querySelector(sel); return e ? (e.getAttribute(a) || '').trim() : ''; };
  const og = {};
  for (const e of document.querySelectorAll('meta[property^="og:"]')) {
    const p = e.getAttribute('property').toLowerCase();
    if (!(p in og)) og[p] = (e.getAttribute('content') || '').trim();
  }
  return {
    title: (document.title || '').trim(),
    description: attr('meta[name="description" i]', 'content'),
    canonical: attr('link[rel~="canonical" i]', 'href'),
    robots: attr('meta[name="robots" i]', 'content'),
    open_graph: og,
    h1: document.querySelectorAll('h1').length,
  };
}"""


def meta_problems(found: PageMeta, expect: MetaExpect) -> list[str]:
    """What is missing or wrong, one phrase each; empty when the page is right."""
    problems = []
    for name in ("title", "description", "canonical"):
        wanted = getattr(expect, name)
        value = getattr(found, name)
        label = "meta description" if name == "description" else name
        if wanted is False:
            continue
        if not value:
            problems.append(f"{label} missing")
        elif isinstance(wanted, str) and wanted not in value:
            problems.append(f"{label} {value!r} does not contain {wanted!r}")
    for prop in expect.open_graph:
        if not found.open_graph.get(prop.lower()):
            problems.append(f"{prop} missing")
    if expect.robots is not None:
        have = {t.strip().lower() for t in found.robots.split(",") if t.strip()}
        lacking = [t.strip() for t in expect.robots.split(",") if t.strip().lower() not in have]
        if lacking:
            problems.append(f"robots {found.robots or '(none)'!r} lacks {', '.join(lacking)}")
    if expect.h1 is not None and found.h1 != expect.h1:
        problems.append(f"{found.h1} h1 elements (expected {expect.h1})")
    return problems
