"""`python -m grid_pipeline.cli ...`: the same command as the `grid-pipeline` script."""

import sys

from grid_pipeline.cli.main import main

sys.exit(main())
