import warnings

with warnings.catch_warnings():
    # discord.py imports the deprecated audioop at import time (see bots/discord/__init__.py)
    warnings.filterwarnings("ignore", message="'audioop' is deprecated", category=DeprecationWarning)
    import discord  # noqa: F401
