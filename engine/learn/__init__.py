"""Learn: what outcomes teach.

``metrics`` computes the dashboard's figures from plain rows;
``guardrail_candidate`` drafts a guardrail from an incident a human fixed.
"""
