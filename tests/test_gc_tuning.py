"""The web process collects cyclic garbage less often and never rescans what start-up built."""

from __future__ import annotations

import gc

import pytest

from app.main import freeze_when_warm, tune_gc


@pytest.fixture
def restore_gc():
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


def test_tune_gc_raises_the_young_threshold_and_freezes_start_up_objects(restore_gc):
    gc.set_threshold(700, 10, 10)
    gc.unfreeze()
    tune_gc(50_000)
    assert gc.get_threshold() == (50_000, 10, 10)
    assert gc.get_freeze_count() > 0


def test_zero_keeps_cpythons_default(restore_gc):
    gc.set_threshold(700, 10, 10)
    gc.unfreeze()
    tune_gc(0)
    assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0


def test_the_app_tunes_gc_at_start_up(app, settings):
    assert settings.gc_gen0_threshold > 0 and gc.get_threshold()[0] == settings.gc_gen0_threshold


def _tracked(objects: list) -> int:
    """How many of ``objects`` the collector's three generations hold (frozen ones are in none)."""
    ids = {id(o) for generation in (0, 1, 2) for o in gc.get_objects(generation=generation)}
    return sum(id(o) in ids for o in objects)


async def test_objects_built_while_warming_up_are_frozen_too(restore_gc):
    gc.unfreeze()
    tune_gc(50_000)
    warm = [[i] for i in range(1000)]  # what the first requests build and keep (GC-tracked)
    assert _tracked(warm) == len(warm)  # young objects the collector would still scan
    await freeze_when_warm(50_000, delay_s=0)
    assert _tracked(warm) == 0  # all moved to the permanent generation
    gc.unfreeze()
    await freeze_when_warm(0, delay_s=0)  # tuning off: nothing frozen
    assert gc.get_freeze_count() == 0
