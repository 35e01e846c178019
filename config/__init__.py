"""Configuration of every process, read once from the environment (12-factor)."""

from config.settings import ConfigError, Settings, load_settings

__all__ = ["ConfigError", "Settings", "load_settings"]
