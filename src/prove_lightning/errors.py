"""One exception type for problems a user can fix; the CLI turns it into one clear line."""


class ProveError(Exception):
    """A problem with input, configuration or data that the message explains how to fix."""


class ConfigError(ProveError):
    """A config value or override is invalid."""


class DataError(ProveError):
    """A dataset file or tree is missing, corrupt or inconsistent."""


class StorageError(ProveError):
    """A file could not be written (read-only path, no permission, disk full); nothing was overwritten."""


class DivergedError(ProveError):
    """Training produced a non-finite (or exploding) loss, gradient or weight; the run is marked failed."""

    def __init__(self, message: str, step: int) -> None:
        super().__init__(message)
        self.step = step


class CheckpointError(ProveError):
    """A checkpoint cannot be loaded, holds non-finite weights, or belongs to another model."""
