"""README.md and docs/*.md: every relative link points at a file that exists."""

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def relative_links(document: Path) -> list[str]:
    """Return the relative link targets of a Markdown file, as written.

    Parsed with markdown-it rather than a regex, so links shown inside code are not links.
    """
    tokens = MarkdownIt("commonmark").parse(document.read_text())
    inline = (child for token in tokens for child in token.children or [])
    hrefs = [child.attrGet("href") for child in inline if child.type == "link_open"]
    return [href for href in hrefs if not urlsplit(href).scheme and not href.startswith("#")]


def missing_targets(document: Path) -> list[str]:
    """Return the links of a document whose file or folder does not exist."""
    return [
        link
        for link in relative_links(document)
        if not (document.parent / unquote(urlsplit(link).path)).exists()
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_relative_links_point_at_existing_files(document):
    assert missing_targets(document) == []


def test_a_link_to_a_missing_file_is_reported(tmp_path):
    document = tmp_path / "guide.md"
    (tmp_path / "here.md").write_text("# Here\n")
    document.write_text("[ok](here.md#here) [gone](gone.md) [web](https://example.org/x.md)\n")
    assert missing_targets(document) == ["gone.md"]
