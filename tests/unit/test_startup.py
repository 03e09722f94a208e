"""Start-up loads only what answering ``/health`` needs; the rest loads on first use.

pydantic (the payload models) and prometheus_client (the exposition) were most of a start's
cost. Each check runs in a fresh interpreter: this test process has long loaded both.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from echosts import models, protocol


def run_fresh(script: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_a_created_service_has_loaded_neither_pydantic_nor_prometheus_client() -> None:
    run_fresh(
        """
        import sys
        from echosts.app import EchoService
        from echosts.cli import serve
        from echosts.config import Settings

        EchoService.create(Settings())
        loaded = {
            "pydantic",
            "echosts.models",
            "prometheus_client",
            "echosts.metrics",
            "echosts.check",
            "echosts.contract",
            "echosts.media",
        }
        assert not loaded & set(sys.modules), loaded & set(sys.modules)
        """
    )


def test_loading_models_in_the_background_makes_them_ready_for_the_first_event() -> None:
    run_fresh(
        """
        import sys
        from echosts.cli import load_models_in_background

        load_models_in_background().join(30)
        assert "echosts.models" in sys.modules
        """
    )


def test_the_first_scrape_builds_the_registry_with_the_counted_numbers() -> None:
    run_fresh(
        """
        import sys
        from echosts.app import EchoService
        from echosts.config import Settings

        service = EchoService.create(Settings())
        service.capabilities.observer.connection_accepted()
        body, content_type = service.exposition.render("")
        assert content_type.startswith("text/plain"), content_type
        assert b"echosts_connections_accepted_total 1.0" in body, body
        assert service.registry is service.exposition.registry
        assert "prometheus_client" in sys.modules
        """
    )


def test_a_model_name_on_protocol_is_the_model_itself() -> None:
    assert protocol.FragmentData is models.FragmentData
    assert protocol.validate is models.validate


def test_every_lazy_name_exists_in_the_models_module() -> None:
    assert all(hasattr(models, name) for name in protocol.LAZY_NAMES)


def test_an_unknown_name_on_protocol_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nonexistent'"):
        _ = protocol.Nonexistent
