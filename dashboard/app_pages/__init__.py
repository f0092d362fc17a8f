"""One file per dashboard page; each reads top to bottom like a description of the UI."""
