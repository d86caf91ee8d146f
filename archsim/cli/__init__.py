"""Command-line interface: one `archsim` command with one module per sub-command."""
