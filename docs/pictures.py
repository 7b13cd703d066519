"""Draw the pictures of the Axons the docs show (`make pictures`; needs Graphviz's ``dot``).

Each example Axon of the docs is kept once, in ``docs/examples/NAME.yaml`` and/or ``NAME.py``; its page
includes the file's text (``--8<-- "docs/examples/NAME.yaml"``, pymdownx.snippets) and shows
``docs/img/NAME.svg``, which this script draws from the same file (from the YAML when both forms exist).
The recommender demo's picture, ``docs/img/recommender-demo.svg``, is drawn from
``examples/recommender_demo/pipeline.py``::

    python docs/pictures.py            # redraw every picture
    python docs/pictures.py --list     # print "source -> picture" for each, drawing nothing

tests/graph/test_graph.py checks that every committed picture shows what a fresh drawing of its source shows.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLES = PROJECT / "docs" / "examples"
IMG = PROJECT / "docs" / "img"
DEMO = PROJECT / "examples" / "recommender_demo" / "pipeline.py"


def pictures() -> dict[Path, Path]:
    """Every picture of the docs, ``docs/img/NAME.svg``, with the Axon file it is drawn from."""
    sources: dict[str, Path] = {}
    for path in sorted(EXAMPLES.glob("*.py")) + sorted(EXAMPLES.glob("*.yaml")):
        sources[path.stem] = path  # the YAML form wins over the Python form of the same example
    drawn = {IMG / "recommender-demo.svg": DEMO}
    drawn.update({IMG / f"{stem}.svg": path for stem, path in sorted(sources.items())})
    return drawn


def main(argv: list[str]) -> int:
    for picture, source in pictures().items():
        if "--list" in argv:
            print(f"{source.relative_to(PROJECT)} -> {picture.relative_to(PROJECT)}")
            continue
        from myelin_sdk.graph import axon_graph, render
        from myelin_sdk.loader import load_path

        picture.write_bytes(render(axon_graph(load_path(source)), "svg"))
        print(f"wrote {picture.relative_to(PROJECT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
