"""The Python runtime's bootstrap: `/var/runtime/bootstrap.py` in images, the process backend's
entry point on the host."""

from pathlib import Path

#: The file itself (it runs under the runtime's interpreter, so it imports nothing of this package).
PYTHON_BOOTSTRAP = Path(__file__).with_name("python_bootstrap.py")

#: The launcher that starts the Python bootstrap under coverage.py and/or debugpy (it runs under
#: the runtime's interpreter too; see `backends/instrument.py`).
PYTHON_INSTRUMENT = Path(__file__).with_name("instrument.py")
