"""Pure-Python core of self_healing, split by capability.

- ``detect``: signals, normalisation, fingerprints, the log lines that are not tracebacks;
- ``library``: error classes, the guardrail library and solved-case files, as data;
- ``match``: the rules-first classifier and the combined match with neighbours;
- ``similar``: embeddings and nearest-neighbour search;
- ``decide``: confidence, policy and the state machines;
- ``llm``: the optional LLM second opinion;
- ``patching``: pure helpers of the auto-patches;
- ``learn``: dashboard figures and draft guardrails from human fixes.

Nothing in this package imports odoo or the Odoo side of the addon (a test
reads every import). It is loaded as ``odoo.addons.self_healing.engine``
inside the server and as a top-level ``engine`` package by the command line,
the benchmarks and the engine tests, so its modules import each other
relatively and keep no process-wide state.
"""
