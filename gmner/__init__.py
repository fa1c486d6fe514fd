"""The `gmner` command: embedded runner, evaluation, training, prediction."""
