"""Building XML from declared element paths (`a/b/prefix:c`), shared by our XML writers."""

from __future__ import annotations

from lxml import etree


def qualify(step: str, namespaces: dict[str, str]) -> str:
    prefix, sep, local = step.partition(":")
    return f"{{{namespaces[prefix]}}}{local}" if sep else step


def put(parent: etree._Element, path: str, value: str | None,
        namespaces: dict[str, str] | None = None) -> None:
    """Create `path` under `parent` — reusing the last child when it has the same tag, so that
    sibling paths share their parents — and set the leaf's text."""
    node = parent
    *steps, leaf = [qualify(s, namespaces or {}) for s in path.split("/")]
    for step in steps:
        last = node[-1] if len(node) else None
        node = last if last is not None and last.tag == step else etree.SubElement(node, step)
    etree.SubElement(node, leaf).text = value or None
