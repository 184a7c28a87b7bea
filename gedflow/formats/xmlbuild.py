"""Building XML from declared element paths (`a/b/prefix:c`), shared by our XML writers."""

from __future__ import annotations

from lxml import etree


def qualify(step: str, namespaces: dict[str, str]) -> str:
    prefix, sep, local = step.partition(":")
    return f"{{{namespaces[prefix]}}}{local}" if sep else step


def append(parent: etree._Element, path: str,
           namespaces: dict[str, str] | None = None) -> etree._Element:
    """A new element at `path` under `parent`, its parents reused when they are the last child
    of the same tag (so that sibling paths, and repeated records, share their parents)."""
    node = parent
    *steps, leaf = [qualify(s, namespaces or {}) for s in path.split("/")]
    for step in steps:
        last = node[-1] if len(node) else None
        node = last if last is not None and last.tag == step else etree.SubElement(node, step)
    return etree.SubElement(node, leaf)


def put(parent: etree._Element, path: str, value: str | None,
        namespaces: dict[str, str] | None = None) -> None:
    """`append` the leaf at `path` and set its text."""
    append(parent, path, namespaces).text = value or None
