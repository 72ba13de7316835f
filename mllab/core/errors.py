"""Typed errors that read well to a human.

Every error the kit raises on bad input or a missing piece of the environment derives from
:class:`MllabError`; the CLI prints its message (no traceback) and exits non-zero.
"""


class MllabError(Exception):
    """Base class: the message says what went wrong and what to do."""


class EngineUnavailable(MllabError):
    """No Docker engine answers (and none could be started)."""


class ProviderUnavailable(MllabError):
    """An execution provider (CUDA, TensorRT) was asked for but ONNX Runtime did not use it."""


class IntegrityError(MllabError):
    """A model file does not match its recorded sha256."""


class InputError(MllabError):
    """An input has the wrong shape, dtype, or content (a corrupt image, NaN, ...)."""


class WeightsUnavailable(MllabError):
    """The requested weights cannot be had (offline, missing checkpoint)."""


class LabFailed(MllabError):
    """One or more labs failed in the runner."""


class BuildError(MllabError):
    """An image build failed; the message carries the failing step's log."""


class ExportFailed(MllabError):
    """An export produced a model that fails a check (checker, dynamic batch, single file)."""


class ConfigError(MllabError):
    """A setting (an environment variable, a lock file) holds a value the kit cannot use."""


class BaseImageMismatch(MllabError):
    """The engine's image under the base's tag is not the base this machine recorded."""
