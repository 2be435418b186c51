"""Configuration: one dataclass per section, presets, files, command-line overrides.

A run is described by one :class:`Config` made of seven sections (``env``, ``network``,
``search``, ``replay``, ``train``, ``reanalyze``, ``actors``). Any field can be
overridden from the command line as ``--SECTION.FIELD VALUE`` with dashes or
underscores in FIELD, e.g. ``--search.num-simulations 25`` or ``--train.lr=0.01``;
tuple fields take one or more values (``--network.hidden 128 128``); optional fields
accept ``none``. Configs are saved as indented JSON or TOML (:meth:`Config.save`) and
read back with :meth:`Config.load`; both directions check every name and type.

The package's modules, each importing only those above it:

* :mod:`mzero.config.values`: a field's type, lookups by name with the closest name,
  and the coercion of file and command-line values;
* :mod:`mzero.config.schema`: the section dataclasses and their validation, JSON and
  TOML files, and the runtime objects they describe (search config, replay buffer);
* :mod:`mzero.config.presets`: the tuned presets (:data:`PRESETS`, :func:`preset`);
* :mod:`mzero.config.docs`: :func:`field_docs`, the docstring under each field;
* :mod:`mzero.config.overrides`: the ``--SECTION.FIELD`` options and
  :func:`apply_overrides`; the fields a resumed run keeps (:data:`FIXED_ON_RESUME`).
"""

from __future__ import annotations

from mzero.config.docs import field_docs
from mzero.config.overrides import (
    FIXED_ON_RESUME,
    add_override_arguments,
    apply_overrides,
    changes_fixed_on_resume,
    overrides_from_namespace,
    unknown_override,
)
from mzero.config.presets import PRESETS, preset
from mzero.config.schema import (
    ActorsConfig,
    Config,
    EnvConfig,
    FileFormat,
    NetworkConfig,
    ReanalyzeConfig,
    ReplaySettings,
    SearchSettings,
    TrainConfig,
    autocast_dtype,
)

__all__ = [
    "FIXED_ON_RESUME",
    "PRESETS",
    "ActorsConfig",
    "Config",
    "EnvConfig",
    "FileFormat",
    "NetworkConfig",
    "ReanalyzeConfig",
    "ReplaySettings",
    "SearchSettings",
    "TrainConfig",
    "add_override_arguments",
    "apply_overrides",
    "autocast_dtype",
    "changes_fixed_on_resume",
    "field_docs",
    "overrides_from_namespace",
    "preset",
    "unknown_override",
]
