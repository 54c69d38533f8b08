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


def test_the_plotly_stylesheet_carries_the_bundles_global_rules():
    version = plotly.offline.get_plotlyjs_version()
    stylesheet = (VENDOR / f"plotly-basic-{version}.css").read_text(encoding="utf-8")
    main_svg = ".js-plotly-plot .plotly .main-svg { position:absolute;top:0;left:0;pointer-events:none; }"
    assert main_svg in stylesheet
