"""One module per `gmner` subcommand; each exposes `register(subparsers)`."""
