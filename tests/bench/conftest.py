import sys
from pathlib import Path

# bench/ is a top-level package of the repository, next to src/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
