"""The publish tests read the modelled lake of tests/modelling (built once per worker, shared), each test with
that lake's settings."""

from tests.modelling.conftest import _modelled_lake_env, modelled_lake  # noqa: F401 - shared fixtures
