"""Buy-till-you-die models per customer: P(alive), loss probability, expected purchases, value.

Pure Python (``math`` only) so the streaming model can call it per event; fitting the
population parameters lives in :mod:`streams.fitting` (numpy/scipy), never on the hot path.
Statistics are the BG/NBD sufficient ones: ``x`` repeat purchases, ``t_x`` time of the last
purchase since the first, ``T`` age since the first; any time unit, as long as ``alpha`` and the
horizon use the same one.
"""

from streams.btyd.gamma_gamma import GammaGammaParams, expected_spend, gamma_gamma_log_likelihood
from streams.btyd.nbd import (
    BgNbdParams,
    expected_purchases,
    expected_value,
    hyp2f1,
    log_likelihood,
    p_alive,
    p_no_purchase,
)

__all__ = [
    "BgNbdParams",
    "GammaGammaParams",
    "expected_purchases",
    "expected_spend",
    "expected_value",
    "gamma_gamma_log_likelihood",
    "hyp2f1",
    "log_likelihood",
    "p_alive",
    "p_no_purchase",
]
