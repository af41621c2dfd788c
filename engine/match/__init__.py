"""Match: which known fault an incident is.

``classifier`` scores every guardrail's rules against an error text and
answers one class (or UNKNOWN) with a calibrated confidence; ``matching``
combines that answer with the nearest solved cases into one match.
"""
