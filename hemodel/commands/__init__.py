"""Commands layer: the ``hemodel`` command line.

:mod:`~hemodel.commands.main` holds the parser and ``run``/``check``/``schema``; every further
subcommand is one module with ``register(subparsers)``, which adds a subparser with an example
in its epilog and sets ``handler=<function(args) -> exit code>``; shared arguments live in
:mod:`~hemodel.commands.arguments`. Modules import heavy dependencies inside their handler,
so ``hemodel --help`` and ``hemodel check`` start at once.
"""
