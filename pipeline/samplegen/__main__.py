"""``python -m pipeline.samplegen SAMPLES_DIR [TEMPLATES_DIR]``: regenerate the samples."""

import sys
from pathlib import Path

from pipeline.samplegen.build import generate

if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m pipeline.samplegen SAMPLES_DIR [TEMPLATES_DIR]")
    generate(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) == 3 else None)
