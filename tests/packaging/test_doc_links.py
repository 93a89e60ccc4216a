"""Every relative link in the README, docs/ and tests/README.md leads somewhere: the file exists and, for a link to a
heading (`page.md#heading`), the page has that heading (GitHub's anchor rule)."""

import glob
import os
import re

from helpers import ROOT

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def pages():
    return [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "tests", "README.md")] + sorted(
        glob.glob(os.path.join(ROOT, "docs", "*.md")))


def anchors(path):
    """GitHub's anchors of a page's headings: lower case, punctuation but hyphens and underscores dropped, spaces to
    hyphens."""
    with open(path) as f:
        text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower().replace("`", "")).replace(" ", "-")
        found.add(slug)
    return found


def broken_links(path):
    with open(path) as f:
        text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: not ours to check here
        file_part, anchor = (target.split("#", 1) + [""])[:2]
        where = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if not os.path.exists(where):
            broken.append("%s -> %s (no such file)" % (os.path.relpath(path, ROOT), target))
        elif anchor and where.endswith(".md") and anchor not in anchors(where):
            broken.append("%s -> %s (no such heading)" % (os.path.relpath(path, ROOT), target))
    return broken


def test_every_relative_link_resolves():
    broken = [b for p in pages() for b in broken_links(p)]
    assert not broken, "links that lead nowhere:\n" + "\n".join(broken)


def test_a_broken_link_is_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A page\n\n[fine](page.md#a-page) [gone](nowhere.md) [no heading](page.md#elsewhere)\n")
    expected = ["nowhere.md (no such file)", "page.md#elsewhere (no such heading)"]
    assert [b.split(" -> ")[1] for b in broken_links(str(page))] == expected
