"""The `marketpulse` command: one module per command group, assembled in `main`.

`console` holds the one console pair, `settings` the one settings loader, `options` the option types the groups
share (symbols, days, instants), each parsed once. A new command goes into its group's module; a new group is a
module with an `app` plus one line in `main.GROUPS` (docs/CONTRIBUTING.md).
"""
