import os

# Tests run with DEBUG off, as production does; a key is all the settings need.
os.environ.setdefault("SECRET_KEY", "tests-only-secret")
