"""Library: the addon's knowledge as data, readable without a database.

``error_classes`` is the canonical list of root-cause classes;
``guardrails`` loads and checks the guardrail library (``data/guardrails``);
``knowledge_import`` reads solved cases from JSON Lines and CSV files.
"""
