"""The `grid-pipeline` command: thin shells over the application layer (`grid_pipeline.app`)."""

from grid_pipeline.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
