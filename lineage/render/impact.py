"""The rename impact as Markdown, and its cascade as a Mermaid or Graphviz picture."""

from __future__ import annotations

from lineage.analyses.impact import PLACE_COLUMNS, RENAME_COLUMNS, Impact
from lineage.core.text import terminal_text
from lineage.render.formats import Output, console_for, destination, emit_rows, rows_to_markdown, rows_to_table


def _node_names(impact: Impact) -> dict[str, str]:
    return {key: f"n{i}" for i, key in enumerate(impact.nodes)}


def _label_lines(node: dict) -> list[str]:
    lines = [node["stage"], node["old_id"]]
    if node["role"] == "renamed":
        lines.append("→ " + node["new_id"])
    elif node["role"] == "kept":
        lines.append("(kept)")
    else:
        lines.append("(no new ID)")
    return lines


def _mermaid_text(text: str) -> str:
    return (terminal_text(text).replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;"))


def to_mermaid(impact: Impact) -> str:
    names = _node_names(impact)
    out = ["flowchart LR"]
    for key, node in impact.nodes.items():
        label = "<br/>".join(_mermaid_text(line) for line in _label_lines(node))
        out.append(f'  {names[key]}["{label}"]:::{node["role"]}')
    for parent, child in impact.edges:
        out.append(f"  {names[parent]} --> {names[child]}")
    out += ["  classDef renamed fill:#fff3cd,stroke:#b58900;",
            "  classDef kept fill:#eeeeee,stroke:#999999;",
            "  classDef blocked fill:#f8d7da,stroke:#dc3545;"]
    return "\n".join(out) + "\n"


def _dot_text(text: str) -> str:
    return terminal_text(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


DOT_STYLE = {"renamed": 'style=filled, fillcolor="#fff3cd"', "kept": 'style=filled, fillcolor="#eeeeee"',
             "blocked": 'style=filled, fillcolor="#f8d7da"'}


def to_dot(impact: Impact) -> str:
    names = _node_names(impact)
    out = ["digraph cascade {", "  rankdir=LR;", "  node [shape=box, fontname=monospace];"]
    for key, node in impact.nodes.items():
        label = "\\n".join(_dot_text(line) for line in _label_lines(node))
        out.append(f'  {names[key]} [label="{label}", {DOT_STYLE[node["role"]]}];')
    for parent, child in impact.edges:
        out.append(f"  {names[parent]} -> {names[child]};")
    out.append("}")
    return "\n".join(out) + "\n"


def to_markdown(impact: Impact) -> str:
    parts = ["# Rename impact\n\n", "## Renames\n\n",
             rows_to_markdown([r.as_dict() for r in impact.renames], RENAME_COLUMNS)]
    if impact.conflicts:
        parts += ["\n## Conflicts\n\n",
                  rows_to_markdown(impact.conflicts, ["kind", "stage", "new_id", "old_ids", "message"])]
    parts += ["\n## Places to update\n\n", rows_to_markdown([p.as_dict() for p in impact.places], PLACE_COLUMNS)]
    if impact.warnings:
        parts += ["\n## Warnings\n\n"] + [f"- {terminal_text(w)}\n" for w in impact.warnings]
    return "".join(parts)


def write_impact(impact: Impact, fmt: str, output: Output) -> None:
    rows = [p.as_dict() for p in impact.places]
    if fmt in ("json", "csv"):
        emit_rows(rows, PLACE_COLUMNS, fmt, output, document=impact.as_dict())
        return
    with destination(output) as out:
        if fmt == "md":
            out.write(to_markdown(impact))
        elif fmt in ("mermaid", "dot"):
            out.write(to_mermaid(impact) if fmt == "mermaid" else to_dot(impact))
        else:
            console = console_for(out)
            console.print(rows_to_table([r.as_dict() for r in impact.renames], RENAME_COLUMNS, "Renames"))
            if impact.conflicts:
                console.print(rows_to_table(impact.conflicts, ["kind", "stage", "new_id", "old_ids", "message"],
                                            "Conflicts"))
            console.print(rows_to_table(rows, PLACE_COLUMNS, "Places to update"))
