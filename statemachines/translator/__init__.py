"""Conductor workflow definitions to AWS Step Functions (ASL, JSONPath query language)."""

from statemachines.translator.diagnostics import Diagnostic, Diagnostics, Severity, TranslationError
from statemachines.translator.options import TranslatorOptions
from statemachines.translator.translate import Translation, translate_workflow

__all__ = [
    "Diagnostic",
    "Diagnostics",
    "Severity",
    "Translation",
    "TranslationError",
    "TranslatorOptions",
    "translate_workflow",
]
