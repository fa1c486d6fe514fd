"""The visual models shared by VE and VG: the bundled detector (with its Node worker), OCR, faces, the evidence
and the grounder deciding from it, boxes, referring expressions, the pipeline base and the VLM client."""
