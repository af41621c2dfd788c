"""Decide: how far to trust a fix, what to do with it, and which moves are allowed.

``confidence`` estimates the probability that a fix heals an incident;
``policy`` turns that into an action (fix, fix and notify, propose, alert)
under the safety rules; ``lifecycle`` holds the incident and fix-attempt
state machines the models consult; ``rate`` says when a fault spikes or a
snoozed incident's rate condition is met.
"""
