"""`paid` subcommands beyond the core ones in cli.py: one module per topic, each with `register(subparsers)`."""
