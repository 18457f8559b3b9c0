"""One module per channel, each a formatter (its markup and limits) and a notifier (its API):
telegram, dingtalk, wecom, webhook, console. `build_channels(cfg, ...)` in bot.channels lists them."""
