"""The `govwatch` command: a thin shell over the checker library, the bot and the scheduler."""
