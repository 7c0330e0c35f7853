"""CLI command modules, one per area: each defines a typer `app`, or `register(app)` for a top-level one."""
