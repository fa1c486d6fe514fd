"""The knowledge step (the paper's PLIM): few-shot prompt with the most similar hand-written examples."""
