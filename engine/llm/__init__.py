"""LLM: an optional second opinion from Anthropic or OpenAI, through their official SDKs.

``prompt`` writes what is sent (log text fenced as untrusted data) and the
menu of registered fixes the model may pick from; ``client`` calls the SDK
and checks the answer. Nothing the model says is ever executed.
"""
