"""Recipe configuration: a YAML file of sections whose keys also become command-line flags.

A config is a dict of sections (``data``, ``model``, ...), each a dict of
keys; :data:`SCHEMA` lists every section, key, accepted type and meaning.
The ``corpus`` and ``model`` sections are the fields of
:class:`~bssmask.data.corpus_options.CorpusConfig` and
:class:`~bssmask.model_options.ModelOptions` (the arguments of
:class:`~bssmask.models.MaskSeparator`), with their annotated types and
their meanings (:func:`bssmask.options.meanings`; :data:`CORPUS_KEYS`,
:data:`MODEL_KEYS`); :func:`corpus_config` builds the former. Importing
this module imports no torch.
As in Asteroid's recipes, every key is also a flag ``--<key>`` (keys are
unique across sections), so ``--lr 3e-4`` overrides ``optim.lr``.

- :func:`load` reads a full config file, then partial overlay files on top;
- :func:`parse_args` builds the command line of a recipe script from the
  config's keys and applies the flags;
- every problem (unknown section or key, wrong type, missing key, bad YAML)
  raises :class:`ConfigError`, one line naming the file or flag and listing
  the valid keys; :func:`parse_args` prints it and exits with status 2.

Flag values are read as YAML (``--devices 2``, ``--half_lr false``,
``--masker_kwargs "{n_repeats: 2}"``, ``--segment null``), then checked
against the key's type.

Example:
    >>> conf = validate({"optim": {"optimizer": "adam", "lr": 1e-3, "weight_decay": 0}}, "example", partial=True)
    >>> conf["optim"]["weight_decay"]      # ints are accepted where floats are expected
    0.0
"""

from __future__ import annotations

import argparse
import copy
import sys
import typing
from dataclasses import fields
from pathlib import Path
from types import UnionType

import yaml

from .atomic import write_text
from .data.corpus_options import CorpusConfig
from .errors import UserError
from .model_options import ModelOptions
from .options import meanings

NoneType = type(None)

#: Config key of each :class:`~bssmask.data.corpus_options.CorpusConfig` field that the ``corpus`` section
#: sets: all but ``sample_rate`` (the ``data`` section's); the corpus's ``seed`` is ``corpus_seed``, as keys
#: are unique across sections and ``training`` has its own.
CORPUS_KEYS = {("corpus_seed" if field.name == "seed" else field.name): field.name
               for field in fields(CorpusConfig) if field.name != "sample_rate"}
#: Config key of each :class:`~bssmask.models.MaskSeparator` argument that the ``model`` section sets: the
#: fields of :class:`~bssmask.model_options.ModelOptions`.
MODEL_KEYS = {field.name: field.name for field in fields(ModelOptions)}


def _yaml_types(annotation) -> tuple[type, ...]:
    """The types a YAML value may have for an argument of this annotation: a list for a tuple, ``None`` left out."""
    origin = typing.get_origin(annotation) or annotation
    if origin in (typing.Union, UnionType):
        return tuple(t for arg in typing.get_args(annotation) if arg is not NoneType for t in _yaml_types(arg))
    return (list,) if origin in (tuple, list) else (origin,)


def _declared(options: type, keys: dict[str, str]) -> dict[str, tuple[tuple[type, ...], str]]:
    """:data:`SCHEMA` entries of the fields of the dataclass ``options``: ``keys`` maps config keys to fields.

    Types come from the fields' annotations, meanings from their metadata
    (:func:`bssmask.options.meanings`).
    """
    hints, meaning = typing.get_type_hints(options), meanings(options)
    return {key: (_yaml_types(hints[name]), meaning[name]) for key, name in keys.items()}


#: Every section and key: ``(accepted types, meaning)``.
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], str]]] = {
    "corpus": _declared(CorpusConfig, CORPUS_KEYS),
    "data": {
        "train_dir": ((str,), "folder with the training CSV (LibriMix layout)"),
        "valid_dir": ((str,), "folder with the validation CSV"),
        "test_dir": ((str,), "folder with the test CSV"),
        "test_unseen_dir": ((str,), "folder with the held-out-voice test CSV ('': none)"),
        "dev_unseen_dir": ((str,), "folder with the held-out-voice validation CSV ('': none)"),
        "test_same_dir": ((str,), "folder with the same-voice test CSV ('': none)"),
        "task": ((str,), "LibriMix task (sep_clean)"),
        "sample_rate": ((int,), "sample rate (Hz)"),
        "n_src": ((int,), "number of sources"),
        "segment": ((float,), "training excerpt length (s)"),
    },
    "model": _declared(ModelOptions, MODEL_KEYS),
    "loss": {
        "loss": ((str,), "training loss (bssmask.losses), or 'default' for the mask kind's default"),
        "loss_options": ((dict,), "options of the loss"),
    },
    "optim": {
        "optimizer": ((str,), "optimizer name (asteroid.engine.optimizers)"),
        "lr": ((float,), "learning rate"),
        "weight_decay": ((float,), "weight decay"),
    },
    "training": {
        "epochs": ((int,), "maximum number of epochs"),
        "batch_size": ((int,), "batch size per device"),
        "num_workers": ((int,), "data loader workers per device"),
        "half_lr": ((bool,), "halve the learning rate (at lr_milestones, or on validation plateaus)"),
        "lr_milestones": ((list,), "epochs at which the learning rate is halved ([]: on validation plateaus)"),
        "lr_patience": ((int,), "epochs without improvement before halving on a plateau"),
        "early_stop": ((bool,), "stop when the validation loss stops improving"),
        "patience": ((int,), "epochs without improvement before stopping"),
        "speed_perturb": ((list,), "speed factors drawn for each training source, e.g. [0.9, 1.0, 1.1] ([]: none)"),
        "gradient_clipping": ((float,), "gradient norm clipping (0: none)"),
        "on_nonfinite": ((str,), "a NaN or Inf training loss: stop (error naming step and batch) or skip the batch"),
        "seed": ((int,), "seed of initialisation, data order and excerpts (reseeded each epoch)"),
        "logger": ((str,), "tensorboard, csv or none"),
        "progress_bar": ((bool,), "show a progress bar"),
    },
    "trainer": {
        "accelerator": ((str,), "Lightning accelerator: cpu, gpu, auto"),
        "devices": ((int, str, list), "devices per node (number, list or 'auto')"),
        "num_nodes": ((int,), "number of nodes"),
        "strategy": ((str,), "Lightning strategy (auto, ddp, ddp_find_unused_parameters_true ...)"),
        "precision": ((str,), "Lightning training precision: 32-true, bf16-mixed (masker and head in bfloat16)"),
    },
    "eval": {
        "n_save_ex": ((int,), "separated examples saved as wav (-1: all)"),
    },
    "report": {
        "heads": ((dict,), "head variants trained by the report: name -> model/loss overrides"),
        "jobs": ((int,), "head variants trained at once (each with its share of the CPU threads)"),
        "seeds": ((list,), "training seeds of the heads of seed_heads (mean and spread reported)"),
        "seed_heads": ((list,), "heads trained with every seed of seeds, the others with its first ([]: all heads)"),
        "peers": ((dict,), "Asteroid baselines trained by the report: name -> {peer: convtasnet|asteroid_mask, options}"),
        "peer_minutes": ((float,), "wall-clock training budget of each peer (minutes)"),
    },
}

#: Keys added after configs were first written, with the value that keeps an older config's meaning:
#: a full config without them (a ``conf.yml`` saved in an experiment folder) loads with these.
ADDED_KEYS = {"corpus": {"train_voices": [], "train_same_voice": 0.0, "transformed_voices": 0, "transform_seed": 0,
                         "synthetic_voices": []},
              "training": {"speed_perturb": []}, "report": {"seed_heads": []}}

#: Section of each key (keys are unique across sections).
KEY_SECTION = {key: section for section, keys in SCHEMA.items() for key in keys}
assert len(KEY_SECTION) == sum(len(keys) for keys in SCHEMA.values()), "config keys must be unique"


class ConfigError(UserError):
    """A bad config file or flag; the one-line message names it."""


def _type_names(types) -> str:
    return " or ".join("null" if t is NoneType else t.__name__ for t in types)


def _valid_keys(section: str | None = None) -> str:
    if section is None:
        return "valid sections: " + ", ".join(SCHEMA)
    return f"valid keys of {section}: " + ", ".join(SCHEMA[section])


def check_value(value, types: tuple[type, ...], where: str):
    """``value`` if it has one of ``types`` (ints are floats too); raise :class:`ConfigError` otherwise."""
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{where}: expected {_type_names(types)}, got {value!r}")
    if isinstance(value, types):
        return value
    raise ConfigError(f"{where}: expected {_type_names(types)}, got {value!r} ({type(value).__name__})")


def validate(conf, source: str, partial: bool = False) -> dict:
    """Check a config against :data:`SCHEMA` and return a checked copy.

    Args:
        conf: a dict of sections.
        source: the file (or flag) the config came from, for messages.
        partial: allow missing sections and keys (overlays); otherwise each
            section present must hold every key of its section.

    Raises:
        ConfigError: unknown section or key, wrong type, or a missing key.
    """
    if not isinstance(conf, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(conf).__name__}")
    out = {}
    for section, keys in conf.items():
        if section not in SCHEMA:
            raise ConfigError(f"{source}: unknown section {section!r}; {_valid_keys()}")
        if not isinstance(keys, dict):
            raise ConfigError(f"{source}: section {section!r} must be a mapping of keys")
        out[section] = {}
        for key, value in keys.items():
            if key not in SCHEMA[section]:
                raise ConfigError(f"{source}: unknown key {section}.{key}; {_valid_keys(section)}")
            out[section][key] = check_value(value, SCHEMA[section][key][0], f"{source}: {section}.{key}")
        if not partial:
            for key, value in ADDED_KEYS.get(section, {}).items():
                out[section].setdefault(key, copy.deepcopy(value))
        missing = [k for k in SCHEMA[section] if k not in out[section]]
        if missing and not partial:
            raise ConfigError(f"{source}: section {section} misses {', '.join(missing)}")
    return out


def merge(base: dict, overlay: dict) -> dict:
    """``base`` with the keys of ``overlay`` replacing its own (section by section)."""
    out = copy.deepcopy(base)
    for section, keys in overlay.items():
        out.setdefault(section, {}).update(copy.deepcopy(keys))
    return out


def _read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError(f"{path}: cannot read ({err.strerror or err})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None


def load(path: str | Path, overlays=()) -> dict:
    """Read a full config file, then partial overlay files on top of it.

    Raises:
        ConfigError: unreadable file, bad YAML, or a config that fails :func:`validate`.
    """
    conf = validate(_read_yaml(Path(path)), str(path))
    for overlay in overlays:
        conf = merge(conf, validate(_read_yaml(Path(overlay)) or {}, str(overlay), partial=True))
    return conf


def corpus_config(conf: dict) -> CorpusConfig:
    """The corpus builder's options of a recipe config: its ``corpus`` section, at the ``data`` section's rate.

    Lists become tuples; keys that the section lacks keep
    :class:`~bssmask.data.corpus_options.CorpusConfig`'s defaults.

    Example:
        >>> options = corpus_config({"corpus": {"corpus_seed": 3, "voices": ["alpha", "beta"]},
        ...                          "data": {"sample_rate": 16000}})
        >>> options.seed, options.voices, options.sample_rate
        (3, ('alpha', 'beta'), 16000)
    """
    section = conf["corpus"]
    values = {name: section[key] for key, name in CORPUS_KEYS.items() if key in section}
    return CorpusConfig(sample_rate=conf["data"]["sample_rate"],
                        **{name: tuple(value) if isinstance(value, list) else value for name, value in values.items()})


def require(conf: dict, *sections: str, source: str = "config") -> None:
    """Raise :class:`ConfigError` unless every section is present."""
    missing = [s for s in sections if s not in conf]
    if missing:
        raise ConfigError(f"{source}: missing section(s) {', '.join(missing)}")


def dump(conf: dict, path: str | Path) -> None:
    """Write ``conf`` as YAML (atomically)."""
    write_text(path, yaml.safe_dump(conf, sort_keys=False))


def _flag_value(raw: str, section: str, key: str):
    types = SCHEMA[section][key][0]
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    if float in types and isinstance(value, str):
        try:
            value = float(value)  # YAML 1.1 reads "1e-3" as a string
        except ValueError:
            pass
    if str in types and not isinstance(value, types):
        value = raw
    return check_value(value, types, f"--{key}")


def add_arguments(parser: argparse.ArgumentParser, conf: dict) -> None:
    """One flag ``--<key>`` per key of ``conf``, defaulting to the config's value."""
    for section, keys in conf.items():
        group = parser.add_argument_group(f"{section} (config section)")
        for key, value in keys.items():
            types, meaning = SCHEMA[section][key]
            group.add_argument(
                f"--{key}", dest=f"conf.{section}.{key}", default=argparse.SUPPRESS,
                metavar=_type_names(types).upper().replace(" OR ", "|"),
                help=f"{meaning} (config: {value!r})",
            )


def apply_arguments(conf: dict, args: argparse.Namespace) -> dict:
    """``conf`` with the values of the flags that were given."""
    out = copy.deepcopy(conf)
    for dest, raw in vars(args).items():
        if dest.startswith("conf."):
            _, section, key = dest.split(".")
            out[section][key] = _flag_value(raw, section, key)
    return out


def parse_args(argv=None, description: str = "", add_options=None, default_conf: str = "conf.yml"):
    """Parse a recipe script's command line: ``--conf FILE [--conf OVERLAY ...]``, own options, config flags.

    Args:
        argv: arguments (default ``sys.argv[1:]``).
        description: the script's help text.
        add_options: ``f(parser)`` adding the script's own options.
        default_conf: config file when ``--conf`` is not given.

    Returns:
        ``(conf, args)``: the config with the flags applied, and the namespace
        of the script's own options.

    Raises:
        ConfigError: a bad config file, overlay or flag (the script's
            :func:`bssmask.errors.entry_point` reports it in one line, exit code 2).
    """
    argv = sys.argv[1:] if argv is None else list(argv)

    def make_parser(full: bool) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(description=description, add_help=full, allow_abbrev=False)
        parser.add_argument("--conf", action="append", metavar="YAML",
                            help=f"config file, then overlay files (default {default_conf})")
        if full and add_options is not None:
            add_options(parser)
        return parser

    known, _ = make_parser(full=False).parse_known_args(argv)
    paths = known.conf or [default_conf]
    conf = load(paths[0], paths[1:])
    parser = make_parser(full=True)
    add_arguments(parser, conf)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        flags = ", ".join(f"--{key}" for keys in conf.values() for key in keys)
        raise ConfigError(f"unknown option {unknown[0]}; valid config flags: {flags}")
    return apply_arguments(conf, args), args
