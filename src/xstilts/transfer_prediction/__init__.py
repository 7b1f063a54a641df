"""Predict which intermediate configuration helps a target task in a language (issue #16).

``table`` turns finished runs into one gain per (intermediate configuration, target task,
language); ``model`` fits a regressor of that gain; ``evaluation`` measures it held out (one
language or one target task at a time) with ``baselines`` beside it; ``predict`` is what the
``xstilts predict`` and ``recommend`` commands call.
"""
