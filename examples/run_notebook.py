"""Execute the tour notebook in place, with its full setting, and stamp it so a test can tell
stale outputs from fresh ones:

    python examples/run_notebook.py            # about 4 min on 2 CPU cores

Each code cell's metadata gets the SHA-256 of its source (`toyneg.source_sha256`), and the
notebook's metadata the toyneg version, processor and wall time of the execution.
tests/test_frontdoor.py checks that every code cell has outputs and an unchanged source, so a
cell edited without re-running this script fails the suite.
"""

import hashlib
import os
import sys
import time

import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(HERE, "negation_neglect_tour.ipynb")


def source_sha(cell) -> str:
    return hashlib.sha256(cell.source.encode()).hexdigest()


def main() -> int:
    import toyneg
    from toyneg.runner import device_name
    nb = nbformat.read(PATH, as_version=4)
    os.environ.pop("TOYNEG_TINY", None)
    t = time.time()
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(HERE)}}).execute()
    wall = time.time() - t
    for c in nb.cells:
        if c.cell_type == "code":
            c.metadata["toyneg"] = {"source_sha256": source_sha(c)}
    nb.metadata["toyneg"] = {"version": toyneg.__version__, "device": device_name(),
                             "wall_s": round(wall)}
    nbformat.write(nb, PATH)
    print(f"executed {PATH} in {wall:.0f}s on {device_name()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
