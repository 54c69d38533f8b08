"""The README's "What arrives from each client" table, made from expected.py.

python -m tests.conformance.table     # rewrite the table in README.md
"""

import re
from pathlib import Path

from tests.conformance.expected import EXPECTED, FACTS, GAPS

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- conformance-table -->", "<!-- /conformance-table -->"


def readme_table():
    # The last column, what Backoffice does not yet store as expected, shows only while there is any.
    columns = [*FACTS, "not stored right yet"] if GAPS else list(FACTS)
    header = "| client | " + " | ".join(columns) + " |"
    rule = "| --- |" + " --- |" * len(columns)
    rows = [
        f"| `{client}` | " + " | ".join(cells(client)[: len(columns)]) + " |" for client in sorted(EXPECTED)
    ]
    return "\n".join([header, rule, *rows])


def cells(client):
    gaps = "; ".join(GAPS.get(client, {}).values()) or "—"
    return [EXPECTED[client]["arrives"][fact] for fact in FACTS] + [gaps]


def main():
    text = README.read_text()
    pattern = re.compile(f"{re.escape(START)}.*?{re.escape(END)}", re.S)
    README.write_text(pattern.sub(lambda _: f"{START}\n{readme_table()}\n{END}", text))


if __name__ == "__main__":
    main()
