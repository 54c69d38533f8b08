import re
from pathlib import Path

import plotly.offline

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor"


def test_the_vendored_plotly_js_is_the_version_plotly_python_targets():
    version = plotly.offline.get_plotlyjs_version()
    bundle = VENDOR / f"plotly-basic-{version}.min.js"
    assert bundle.exists(), f"static/vendor/ needs plotly-basic-{version}.min.js"
    header = bundle.read_text(encoding="utf-8")[:200]
    assert re.search(rf"plotly\.js \(basic - minified\) v{re.escape(version)}\b", header)
    assert bundle.name in (VENDOR / "README.md").read_text(encoding="utf-8")
