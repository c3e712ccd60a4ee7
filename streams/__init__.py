"""cxstream's framework-free core: domain types, the customer-lifecycle model, contracts.

Nothing under ``streams`` imports Faust; ``agents`` wraps it in a stream processor.
"""

__version__ = "0.1.0"
