"""leadwatch: self-hosted lead-generation and site-observability platform."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("leadwatch")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
