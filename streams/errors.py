"""One exception tree, rooted in :class:`CxStreamError`: callers catch cxstream's own failures."""


class CxStreamError(Exception):
    """Base of every error cxstream raises on purpose."""


class ConfigError(CxStreamError):
    """A configuration file or setting is invalid; the message says which key and why."""


class ContractError(CxStreamError):
    """A schema or codec is misconfigured (not bad input: bad input becomes a dead letter)."""


class StackError(CxStreamError):
    """The local Kafka/Redis stack could not be started or reached."""


class DeliveryError(CxStreamError):
    """An alert could not be delivered to a webhook after all retries."""
