"""Failures in the user's words: the worker's field mapped back to the workflow input field."""

from __future__ import annotations

from imgpipe.local.results import ADVICE, Failure, in_user_words
from lambdas.core.decode import ALLOWED_INPUT_FORMATS

DEFINITION = {
    "States": {
        "fork": {
            "Type": "Map",
            "ItemProcessor": {
                "States": {
                    "plan": {
                        "Type": "Task",
                        "Parameters": {
                            "Payload": {
                                "outputSizes.$": "$.workflow.input.outputSizes",
                                "fileLocation.$": "$.item.input.fileLocation",
                            }
                        },
                    }
                }
            },
        }
    }
}


def test_a_worker_field_read_from_the_workflow_input_is_named_as_written() -> None:
    failure = Failure("fork > plan", "InvalidRecipeError", "outputSizes[1].width: must be greater than 0")
    assert in_user_words(failure, DEFINITION).cause == (
        "outputSizes[1].width: must be greater than 0"  # the same name: nothing to add
    )
    renamed = Failure("plan", "InvalidRecipeError", "outputWidth: must be greater than 0")
    definition = {
        "States": {"plan": {"Parameters": {"Payload": {"outputWidth.$": "$.workflow.input.size.w"}}}}
    }
    assert (
        in_user_words(renamed, definition).cause
        == "size.w (the worker's outputWidth): must be greater than 0"
    )


def test_fields_not_read_from_the_workflow_input_stay_as_the_worker_named_them() -> None:
    failure = Failure("plan", "SourceRefusedError", "fileLocation: unsupported scheme 'ftp'")
    assert in_user_words(failure, DEFINITION) == failure
    assert in_user_words(failure, {}) == failure


def test_the_unsupported_format_advice_lists_every_accepted_format() -> None:
    advice = ADVICE["UnsupportedImageError"]
    assert all(name in advice for name in ALLOWED_INPUT_FORMATS)
    assert "AVIF" in advice
