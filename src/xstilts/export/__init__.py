"""Sharing a kept model: ``xstilts export-model`` writes a Hugging Face folder with its card."""

from xstilts.export.model_export import ExportResult, export_model

__all__ = ["ExportResult", "export_model"]
