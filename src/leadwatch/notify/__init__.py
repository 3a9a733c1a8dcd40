"""Notifications: one small interface (``Notifier.send``), one implementation per
kind of receiver (webhook, email, Slack, PagerDuty), registered by name, and a
persisted outbox that delivers with retries so nothing is lost across restarts."""

from leadwatch.notify.base import DeliveryError, Message, Notifier, notifier_kinds, register

__all__ = ["DeliveryError", "Message", "Notifier", "notifier_kinds", "register"]
