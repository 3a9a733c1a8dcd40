"""The configured receivers (``notify.receivers``) as notifier objects, by name.

Each notifier module registers its kind when imported; a new kind (Slack, PagerDuty)
is a module with a ``@register("kind")`` factory taking its settings model, a settings
class in the ``Receiver`` union of settings.py, and one import line here.
"""

from __future__ import annotations

from leadwatch.notify import email as _email  # noqa: F401  (registers "email")
from leadwatch.notify import pagerduty as _pagerduty  # noqa: F401  (registers "pagerduty")
from leadwatch.notify import slack as _slack  # noqa: F401  (registers "slack")
from leadwatch.notify import webhook as _webhook  # noqa: F401  (registers "webhook")
from leadwatch.notify.base import Notifier, notifier_kinds
from leadwatch.settings import NotifySettings


def build_notifiers(settings: NotifySettings) -> dict[str, Notifier]:
    kinds = notifier_kinds()
    return {name: kinds[config.kind](config) for name, config in settings.receivers.items()}
