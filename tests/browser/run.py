"""Runs the browser tests: python tests/browser/run.py [NAME-PART...].

Each NAME-PART keeps only the tests whose name contains it. Ends with the line
"browser: N passed, N failed" and exits non-zero when any test failed or none ran.
"""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from api import Api  # noqa: E402


def main(argv):
    for variable in ("BROWSER_BASE_URL", "BROWSER_IDLE_BASE_URL"):
        url = os.environ.get(variable)
        if not url:
            print(f"error: {variable} is not set (run scripts/browser-tests.sh)", file=sys.stderr)
            return 2
        Api(url).wait_ready()

    loader = unittest.TestLoader()
    if argv:
        loader.testNamePatterns = [f"*{part}*" for part in argv]
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    started = time.monotonic()
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"browser tests took {time.monotonic() - started:.1f}s")
    print(f"browser: {passed} passed, {failed} failed")
    if result.testsRun == 0:
        print("error: no test ran", file=sys.stderr)
        return 1
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
