"""Real-data examples, each with its own data loader, model builder and sweep config."""
