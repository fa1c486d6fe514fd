"""The SAM stage: `POST /v1/segment` turns boxes into masks (COCO RLE)."""
