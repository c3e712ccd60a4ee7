"""Maximum-likelihood fits of the BTYD population parameters (numpy/scipy, vectorised).

Never imported by the streaming model: a fit runs as its own command over many customers'
statistics and hands the model a versioned :class:`~streams.fitting.record.ParamRecord`.
"""

from streams.fitting.gamma_gamma import fit_gamma_gamma
from streams.fitting.nbd import CustomerStats, fit_nbd, nbd_log_likelihoods
from streams.fitting.record import ParamRecord, fit_population, fit_segments

__all__ = [
    "CustomerStats",
    "ParamRecord",
    "fit_gamma_gamma",
    "fit_nbd",
    "fit_population",
    "fit_segments",
    "nbd_log_likelihoods",
]
