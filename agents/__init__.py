"""cxstream's imperative shell: Faust app and agents, sinks, HTTP views, metrics and the CLI."""
