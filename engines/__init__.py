"""What the models do, with no HTTP: NER (`ner`), the visual models (`vision`) and the LLM client (`llm`).

Layering: `services/` and `gateway/` (the apps) and `gmner/` (training, evaluation) import from here; engines
import only `shared/` (the platform: schemas, errors, settings bases, metrics) and never an app.
"""
