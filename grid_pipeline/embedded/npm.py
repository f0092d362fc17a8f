"""Install the embedded engine's npm packages with the Node from the PyPI wheel.

`python -m grid_pipeline.embedded.npm` runs `npm ci` in the engine directory
against the committed package-lock.json, so no system Node or npm is needed.
"""

from __future__ import annotations

import subprocess
import sys

from grid_pipeline.embedded.engine import ENGINE_DIR, node_binary


def main() -> int:
    node = node_binary()
    npm_cli = node.parent.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    args = sys.argv[1:] or ["ci", "--no-audit", "--no-fund"]
    return subprocess.call([str(node), str(npm_cli), *args], cwd=ENGINE_DIR)


if __name__ == "__main__":
    sys.exit(main())
