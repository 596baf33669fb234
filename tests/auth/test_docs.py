"""docs/security.md shows the role table the code enforces."""

from pathlib import Path

from hazwatch.auth.roles import markdown_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_security_doc_has_the_enforced_role_table():
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- roles:start -->\n", 1)[1].split("\n<!-- roles:end -->", 1)[0]
    assert table == markdown_table()
