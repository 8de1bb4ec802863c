"""Subcommands of the ``hemodel`` command line beyond run/check/schema.

Each module defines ``register(subparsers)``, which adds one subparser with an example in its
epilog and sets ``handler=<function(args) -> exit code>``. Modules import heavy dependencies
inside their handler, so ``hemodel --help`` stays fast.
"""
