"""Readers for one public file format each (SQuAD JSON, CoNLL-style tagging, COPA JSONL, ...).

Each reader takes a path (or paths) and returns example objects of :mod:`xstilts.tasks.base`;
it knows nothing about folder layouts, which the task-definition modules own.
"""
