"""Imported by every Python process started with this folder on PYTHONPATH (bench_smner.py's "reuse off" stack):
the SAM app's process re-encodes per box (benchmarks/sam_per_box.py); the other apps are left as they are."""

import sys

if "services.sam.app:create_app" in sys.argv:
    from benchmarks.sam_per_box import install

    install()
