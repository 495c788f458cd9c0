"""The test suite.

pytest keeps assertion-rewritten modules (the tests, conftests, and the hypothesis plugin's
package) as .pyc files beside them; with PYTHONDONTWRITEBYTECODE set it would rewrite and compile
them again in every worker of every run (about 2 s of CPU each). This package is imported before
any conftest, so everything imported from here on keeps its compiled form (waypost itself is
compiled in tests/conftest.py's pytest_configure, the rest is installed compiled).
"""

import sys

sys.dont_write_bytecode = False
