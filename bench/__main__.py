import sys
from pathlib import Path

# Run from a fresh clone without installing: make src/ importable.
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "src"))

from bench.run import main  # noqa: E402

main()
