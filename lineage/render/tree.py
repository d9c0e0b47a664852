"""The lineage of one generation drawn as a tree for a terminal."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from rich.tree import Tree

from lineage.analyses.show import place
from lineage.core.text import terminal_text


def _label(node: dict[str, Any], bold: bool = False) -> Text:
    # Text, not markup: IDs and messages come from the data and may contain [brackets], and
    # control characters, escaped so the terminal shows them instead of acting on them.
    label = Text(f"{node['stage'] or 'missing'} {terminal_text(node['gen_id'])}", style="bold" if bold else "")
    for p in node["problems"]:
        label.append(f"\n  ! {terminal_text(p)}",
                     style="red" if p.startswith("error") else "yellow" if p.startswith("warn") else "")
    return label


# Levels of indentation a terminal tree shows. Deeper nodes hang at the last level, each label
# prefixed with its depth: a guide of 4 columns per level would otherwise leave no room for the
# label, and draw a number of columns that grows with the square of a chain's length.
MAX_NESTING = 12
# What a label needs beside the guides, so that "(depth 12345) evaluation <an 18-character ID>"
# stays on one line.
LABEL_ROOM = 44


def render_tree(view: dict[str, Any], width: int = 80) -> Tree:
    """Ancestors from the draft down to the generation, then its descendants below it, nested
    no deeper than leaves each label its room in `width` columns."""
    nesting = max(1, min(MAX_NESTING, (width - LABEL_ROOM) // 4))
    chain = list(reversed(view["ancestors"])) + [view]
    top = len(chain) - 1  # the level of the generation itself
    root = Tree(_label(chain[0], bold=top == 0))
    path = [root]  # path[i]: the node last drawn at indentation i

    def draw(node: dict[str, Any], level: int, bold: bool = False) -> None:
        shown = min(level, nesting)
        label = _label(node, bold)
        if level > nesting:
            label = Text(f"(depth {level - top}) ").append_text(label)
        del path[shown:]
        path.append(path[shown - 1].add(label))

    for level, node in enumerate(chain[1:], 1):
        draw(node, level, bold=level == top)
    for node in view["descendants"]:  # depth first: a node's parent was drawn just before it
        draw(node, top + node["depth"])
    if view["referenced_by"] or view["cohorts"]:
        refs = root.add(Text("referenced by"))
        for c in view["cohorts"]:
            refs.add(Text(f"cohort {terminal_text(c)}"))
        for r in view["referenced_by"]:
            refs.add(Text(terminal_text(place(r))))
    return root


