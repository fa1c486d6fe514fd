"""Visual entailment (`POST /v1/entail`): is the entity of each referring expression in the image?"""
