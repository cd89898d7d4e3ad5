#!/usr/bin/env python3
"""Checks an `iotguard explore` page with a real HTML parser (Python's html.parser).

Usage: explore_html_check.py DIR   (a folder written by `iotguard explore --out DIR`)

The page must parse with every element closed, hold no script and no external reference,
and carry the correlation matrix (one labelled row per feature of explore.json's matrix) and
one distribution plot per feature explore.json describes, each an inline SVG that draws.
Exits 1 with the reasons otherwise.
"""

import json
import sys
from html.parser import HTMLParser

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "wbr"}


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.problems = []
        self.figures = {}  # id -> {"svg": n, "rect": n, "texts": [..]}
        self.current = None
        self.in_text = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.problems.append("a <script> element")
        for key in ("src", "href"):
            v = a.get(key)
            if v is not None and not v.startswith("#"):
                self.problems.append(f"an external reference {key}={v}")
        if tag == "figure":
            self.current = a.get("id")
            self.figures[self.current] = {"svg": 0, "rect": 0, "texts": []}
        elif self.current is not None and tag in ("svg", "rect"):
            self.figures[self.current][tag] += 1
        if tag == "text":
            self.in_text = True
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        if self.current is not None and tag == "rect":
            self.figures[self.current]["rect"] += 1
        for key in ("src", "href"):
            v = dict(attrs).get(key)
            if v is not None and not v.startswith("#"):
                self.problems.append(f"an external reference {key}={v}")

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            return
        self.stack.pop()
        if tag == "figure":
            self.current = None
        if tag == "text":
            self.in_text = False

    def handle_data(self, data):
        if self.in_text and self.current is not None and data.strip():
            self.figures[self.current]["texts"].append(data.strip())


def main():
    folder = sys.argv[1]
    page = Page()
    page.feed(open(f"{folder}/explore.html", encoding="utf-8").read())
    page.close()
    doc = json.load(open(f"{folder}/explore.json", encoding="utf-8"))
    problems = list(page.problems)
    if page.stack:
        problems.append(f"unclosed elements: {page.stack}")
    corr = page.figures.get("correlation")
    features = (doc.get("correlation") or {}).get("features", [])
    if corr is None or corr["svg"] != 1:
        problems.append("no correlation matrix figure with one SVG")
    else:
        missing = [f for f in features if f not in corr["texts"]]
        if missing or corr["rect"] < len(features):
            problems.append(f"the matrix lacks rows: {missing[:5]}, {corr['rect']} cells")
    dists = doc.get("distributions", [])
    for i, d in enumerate(dists, 1):
        fig = page.figures.get(f"distribution-{i}")
        name = d["separation"]["feature"]
        if fig is None or fig["svg"] != 1 or fig["rect"] == 0:
            problems.append(f"no distribution plot {i} ({name})")
        elif not any(name in t for t in fig["texts"]):
            problems.append(f"distribution plot {i} does not name {name}")
    if not dists:
        problems.append("no distributions")
    if problems:
        for p in problems:
            print(f"FAIL {p}")
        print(f"0 passed, {len(problems)} failed")
        sys.exit(1)
    print(f"{folder}/explore.html: parsed; correlation matrix of {len(features)} features, "
          f"{len(dists)} distribution plots, {len(page.figures)} figures, self-contained")


if __name__ == "__main__":
    main()
