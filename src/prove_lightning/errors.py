"""One exception type for problems a user can fix; the CLI turns it into one clear line."""


class ProveError(Exception):
    """A problem with input, configuration or data that the message explains how to fix."""


class ConfigError(ProveError):
    """A config value or override is invalid."""


class DataError(ProveError):
    """A dataset file or tree is missing, corrupt or inconsistent."""
