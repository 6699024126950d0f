"""The repository documents itself: no tracked file points at a file outside it, and Markdown links resolve."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Documents that lived beside the repository while it was written, never in it. Each pattern is written so that this
# file's own text does not match it.
OUTSIDE = re.compile(r"PROTOCOL\.md|SIGNALS\.md|ARCHITECTURE\.md|STYLE\.md|shared/(?:design)|\.\./shared")
# [text](target) or [text](target "title"); images too.
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)


def tracked_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in names.decode().split("\0") if name]


def text_of(path: Path) -> str | None:
    """The file's text, or None for a binary or unreadable file (or one deleted but not yet committed)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data:
        return None
    return data.decode("utf-8", "replace")


def outside_references(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every mention of a document outside the repository."""
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if OUTSIDE.search(line)]


def broken_links(text: str, where: Path, root: Path = ROOT) -> list[str]:
    """Relative link targets of a Markdown text in directory ``where`` that name no file or folder of ``root``."""
    broken = []
    for target in MARKDOWN_LINK.findall(text):
        if EXTERNAL.match(target):
            continue  # a URL, or an anchor on the same page
        path = target.split("#", 1)[0]
        resolved = (root / path.lstrip("/")) if path.startswith("/") else (where / path)
        resolved = resolved.resolve()
        if not resolved.is_relative_to(root.resolve()) or not resolved.exists():
            broken.append(target)
    return broken


def test_no_tracked_file_cites_a_document_outside_the_repository() -> None:
    found = []
    for path in tracked_files():
        text = text_of(path)
        if text is not None:
            found += [f"{path.relative_to(ROOT)}:{number}: {line}" for number, line in outside_references(text)]
    assert not found, "references to files outside the repository:\n" + "\n".join(found)


def test_markdown_links_resolve_inside_the_repository() -> None:
    found = []
    for path in tracked_files():
        if path.suffix.lower() == ".md" and (text := text_of(path)) is not None:
            found += [f"{path.relative_to(ROOT)}: {target}" for target in broken_links(text, path.parent)]
    assert not found, "Markdown links to missing files or to files outside the repository:\n" + "\n".join(found)


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    design = "../" + "shared" + "/design/" + "PROTOCOL" + ".md"
    assert outside_references(f"first line\nthe contract is {design}\n") == [(2, f"the contract is {design}")]
    assert outside_references("the contract is docs/protocol.md") == []
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "here.md").write_text("x")
    text = ("[ok](here.md) [anchor](here.md#part) [web](https://example.com/x.md) [same](#top) "
            "[missing](gone.md) [outside](../../elsewhere.md) [rooted](/docs/here.md)")
    assert broken_links(text, tmp_path / "docs", tmp_path) == ["gone.md", "../../elsewhere.md"]


def test_protocol_document_is_the_source_of_truth() -> None:
    """The contract names every message type, channel and error code the server knows, and has a changelog."""
    from api import protocol as p

    text = (ROOT / "docs" / "protocol.md").read_text()
    assert "## Changelog" in text and f"### Protocol version {p.PROTOCOL_VERSION}" in text
    names = [*(t.value for t in p.MessageType), *(c.value for c in p.Channel), *(e.value for e in p.ErrorCode),
             *(str(int(c)) for c in p.CloseCode)]
    missing = [name for name in names if f"`{name}`" not in text and f"| {name} |" not in text]
    assert not missing, f"docs/protocol.md does not mention: {missing}"
