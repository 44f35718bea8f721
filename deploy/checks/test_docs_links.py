"""The documentation the deployment files are described in: every link of the README
and docs/ resolves (files, and #anchors to headings)."""

from tools import run


def test_every_markdown_link_resolves():
    """scripts/check-links.py: each relative link names a file git knows, each #anchor a heading."""
    print(run(["python3", "scripts/check-links.py"]).stdout)
