"""Errors the core raises. Each carries a message fit to show an operator as is:
it names what is wrong and what to do about it."""


class SyncviewError(Exception):
    """Base of every error syncview reports to the operator (one clear line, no traceback)."""


class ConfigError(SyncviewError):
    """The config file is unreadable, malformed, or names something unknown."""


class SecretError(ConfigError):
    """A secret reference could not be resolved."""


class StoreError(SyncviewError):
    """The store cannot be opened or written (locked, newer schema, not SQLite, disk full...)."""


class NotFoundError(SyncviewError):
    """An integration, client, resource or record named by the operator does not exist."""


class ActionError(SyncviewError):
    """An operator action cannot be applied as asked (wrong type, already linked, nothing to undo...)."""


class StaleResourceError(ActionError):
    """The resource changed since it was read; the action was refused rather than applied over it."""


class ConnectorError(SyncviewError):
    """A connector failed to fetch (auth, network, malformed answer)."""


class AuthenticationError(ConnectorError):
    """The product refused the integration's credentials."""


class Cancelled(Exception):
    """A read was stopped because its answer is no longer wanted (not an error to show)."""
