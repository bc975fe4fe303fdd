"""`python -m pytest_lambda`: the command line (see `pytest_lambda.cli`)."""

import sys

from pytest_lambda.cli import main

sys.exit(main())
