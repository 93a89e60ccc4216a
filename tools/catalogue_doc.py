"""Write docs/catalogue.md's table from plugins/module_utils/catalogue.py (make docs runs it).

The table sits between two marker lines; everything else in the page is prose kept by hand. A unit test
(tests/unit/test_catalogue.py) fails when the page is not the table made from the catalogue.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.medzen.ehrbase.plugins.module_utils.catalogue import markdown  # noqa: E402

BEGIN, END = "<!-- catalogue table: tools/catalogue_doc.py writes it -->\n", "<!-- end of the catalogue table -->\n"


def main():
    path = os.path.join(ROOT, "docs", "catalogue.md")
    with open(path) as f:
        text = f.read()
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(path, "w") as f:
        f.write(head + BEGIN + markdown() + END + tail)
    print("wrote the table of %s" % os.path.relpath(path, ROOT))


if __name__ == "__main__":
    main()
