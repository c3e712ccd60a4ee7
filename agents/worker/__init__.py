"""The worker: consume the inputs, fold them into customer state, publish what that produced.

The customer agent (``customer_agent``) hands each batch to its cycle (``batch_cycle``: fold,
publish, acknowledge, store), whose fold (``batch_fold``, ``customer_fold``, its ports in
``fold_ports``) is Faust-free; ``fold_process`` runs the per-customer fold in a child process (its
side: ``fold_child``; what crosses: ``fold_wire``), ``overlapped_take`` fills the next batch
meanwhile and ``fold_ahead`` folds it while the batch before is stored. ``merge`` orders the
inputs by event time (bound to the consumer in ``merge_probes``), ``tables`` and ``outputs`` keep
state and publish, and ``changelog`` writes customer states to their changelog through librdkafka,
flushed whenever Faust flushes its producer before a commit. With an alert
budget, ``budget_feed`` and ``budget_agent`` admit each CX team's K best churn openings per day.
Private Faust/mode/aiokafka attributes are read in ``faust_internals`` and replaced or wrapped in
``faust_overrides`` (and ``faust_lean``: per-record bookkeeping nobody reads), ``fetch_guard``
(its offsets kept in ``fetch_ledger``), ``changelog_queue``, ``cleared_inputs`` and
``fast_restore`` (a recovery's changelog read with librdkafka into the ``table_store`` RocksDB
store); each piece they rely on is pinned by source hash in ``faust_pins``.
The HTTP API (``web*``, ``api_security``, ``action_api``), metrics, health, model parameters, topic
administration and start-up checks live here too.

May import: ``agents.settings``, ``streams`` and third-party libraries; never ``agents.sinks``,
``agents.cli``, ``agents.demo`` or ``agents.app``.
"""
