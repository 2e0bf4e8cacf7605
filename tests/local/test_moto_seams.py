"""The moto internals the S3 event seam patches are where it expects them."""

from __future__ import annotations

import pytest

from imgpipe.local import s3_event_seam
from imgpipe.local.lambda_seam import MotoInternalsChanged


def test_moto_s3_eventbridge_internals_are_where_the_seam_expects_them() -> None:
    s3_event_seam.verify_moto_s3_internals()


def test_the_check_fails_loudly_when_moto_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.s3.notifications as notifications

    monkeypatch.delattr(notifications, s3_event_seam.PATCHED_FUNCTION)
    with pytest.raises(MotoInternalsChanged, match=s3_event_seam.PATCHED_FUNCTION):
        s3_event_seam.verify_moto_s3_internals()
