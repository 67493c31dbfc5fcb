"""Typed exceptions for expected user mistakes.

They are raised anywhere in the library and caught once, at the CLI boundary, where they become
one clear line on stderr and an exit code: 2 for usage errors, 1 for failed validation.
"""


class DfardError(Exception):
    """Base class of every error the CLI shows as one line instead of a traceback."""

    exit_code = 1


class UsageError(DfardError):
    """The user asked for something that cannot be done as asked (bad file, option, name)."""

    exit_code = 2


class ConfigError(UsageError):
    """A config file or override is malformed: unknown key, wrong type, bad value."""


class RegistryError(UsageError):
    """An unknown or duplicate name in a registry."""


class CheckpointError(UsageError):
    """A checkpoint is missing, corrupt, untrusted or does not match what it should hold."""


class ResultFileError(UsageError):
    """A result file this tool wrote (verify.json) is missing, damaged or of another schema."""


class ToolchainMissing(UsageError):
    """What a format or runtime needs (TensorRT, a CUDA GPU) is not on this machine: ``run`` skips
    that target and says why, a single command stops with the same line."""


class DataError(UsageError):
    """A dataset path is missing or not in the expected format."""


class RuntimeFailure(DfardError):
    """The runtime failed while running a model the checks accepted (a TensorRT execution error):
    not the user's input, so exit 1, not 2."""

    exit_code = 1


class ValidationError(DfardError):
    """The work ran but its result failed a check (parity, NaN loss, a gate)."""

    exit_code = 1
