"""Visual grounding (`POST /v1/ground`): a box in the image for each referring expression."""
