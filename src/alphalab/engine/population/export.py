"""Each run's artifacts, as its single-run model leaves them: ``config.yaml``, ``weights.json``
and ``model.keras`` holding the run alone, as the ordinary single-run model, with its weights and
its optimizer's state (so that it reloads and trains on exactly as a single run's file does).

Saving a Keras model costs tens of milliseconds, too much for thousands of runs. So the
single-run model of each approach is built, compiled and saved once, as a template; a run's file
is that template with its alpha written into the config and its weights and optimizer variables
into the weights file, whose datasets are found once by filling every variable with a distinct
value.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alphalab.config.spec import RunSpec
from alphalab.engine.record import config_yaml
from alphalab.model.build import ALPHA_LAYER, build
from alphalab.model.compile import compile_for_training
from alphalab.model.keras_internals import slot_lists
from alphalab.session import State
from alphalab.tracking import names

_ALPHA_CLASSES = ("Lambda", "ComplexAlpha")
_MARK = 1000.0  # variable i of a template is filled with _MARK + i to find its dataset


@dataclass(frozen=True)
class Slot:
    """Where an optimizer variable of the single-run model comes from: slot ``attribute`` of
    the model's trainable variable ``index``, or (``attribute`` None) the optimizer's own
    variable called ``name`` (its iteration count, a constant learning rate)."""

    name: str
    attribute: str | None = None
    index: int = -1


class Layout:
    """A single-run model's variables: its weights' paths in order, which of them it trains,
    and what each variable of its optimizer is."""

    def __init__(self, model):
        self.paths = [weight.path for weight in model.weights]
        trained = {id(v): i for i, v in enumerate(model.trainable_variables)}
        self.trained_path = {
            i: w.path for w in model.weights if (i := trained.get(id(w))) is not None
        }
        optimizer = model.optimizer
        owner = {
            id(slot): (attribute, index)
            for attribute, slots in slot_lists(optimizer).items()
            for index, slot in enumerate(slots)
        }
        self.slots = [
            Slot(variable.name, *owner[id(variable)])
            if id(variable) in owner
            else Slot(variable.name)
            for variable in optimizer.variables
        ]


class _Template:
    """One approach's single-run ``model.keras``, and where each variable sits in it."""

    def __init__(self, spec: RunSpec, input_shape: tuple, has_imag: bool, total_steps: int):
        import h5py
        from keras import ops

        model, _ = build(spec.approach, spec.formula, spec.alpha, spec.model, input_shape, has_imag)
        compile_for_training(model, spec.train, has_imag, total_steps)
        model.optimizer.build(model.trainable_variables)  # as after a fit: every slot exists
        self.layout = Layout(model)
        variables = list(model.weights) + list(model.optimizer.variables)
        for i, variable in enumerate(variables):
            variable.assign(ops.full(variable.shape, _MARK + i, dtype=variable.dtype))
        with tempfile.TemporaryDirectory(prefix="alphalab-template-") as tmp:
            model.save(Path(tmp) / names.MODEL)
            with zipfile.ZipFile(Path(tmp) / names.MODEL) as archive:
                self.files = {name: archive.read(name) for name in archive.namelist()}
        self.config = json.loads(self.files["config.json"])
        self.datasets: list[str | None] = [None] * len(variables)
        with h5py.File(io.BytesIO(self.files["model.weights.h5"]), "r") as h5:

            def find(name, item):
                if isinstance(item, h5py.Dataset) and item.size:
                    first = float(np.asarray(item).ravel()[0])
                    index = round(first - _MARK)
                    if 0 <= index < len(variables) and first == _MARK + index:
                        self.datasets[index] = name

            h5.visititems(find)
            if None in self.datasets:
                raise RuntimeError("could not locate every variable in the saved model")
            # where each variable's bytes sit in the file (contiguous, uncompressed datasets):
            # a run's file is then the template's bytes with its values written over them
            places = [h5[name] for name in self.datasets]
            self.places = [(d.id.get_offset(), d.dtype, d.shape) for d in places]
            if any(offset is None for offset, _, _ in self.places) or any(
                d.compression or d.chunks for d in places
            ):
                self.places = None  # then h5py writes them

    def write(self, path: Path, alpha: tuple[float, float], values: list[np.ndarray]):
        """The run's model.keras: the template with its alpha, weights and optimizer state
        (``values``: the weights in order, then the optimizer's variables in order)."""
        import h5py

        config = json.loads(json.dumps(self.config))
        _set_alpha(config, float(alpha[0]), float(alpha[1]))
        if self.places is not None:
            weights = bytearray(self.files["model.weights.h5"])
            for (offset, dtype, shape), value in zip(self.places, values, strict=True):
                data = np.ascontiguousarray(np.asarray(value, dtype=dtype).reshape(shape))
                weights[offset : offset + data.nbytes] = data.tobytes()
        else:
            buffer = io.BytesIO(self.files["model.weights.h5"])
            with h5py.File(buffer, "r+") as h5:
                for dataset, value in zip(self.datasets, values, strict=True):
                    h5[dataset][...] = value
            weights = buffer.getvalue()
        # Keras stores its entries; deflated (zlib's default level), a small model's file is a
        # tenth of that, its HDF5 file being mostly padding, and load_model reads it the same
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in self.files.items():  # in Keras's order
                if name == "config.json":
                    content = json.dumps(config).encode()
                elif name == "model.weights.h5":
                    content = bytes(weights)
                archive.writestr(name, content)


def _set_alpha(node, real: float, imag: float) -> None:
    """Write alpha into the alpha layer's config, wherever the model nests it."""
    if isinstance(node, dict):
        config = node.get("config")
        is_alpha = node.get("class_name") in _ALPHA_CLASSES and isinstance(config, dict)
        if is_alpha and config.get("name") == ALPHA_LAYER:
            if node["class_name"] == "Lambda":
                config["arguments"].update(alpha_real=real, alpha_imag=imag)
            else:
                config.update(alpha_real=real, alpha_imag=imag)
        for value in node.values():
            _set_alpha(value, real, imag)
    elif isinstance(node, list):
        for value in node:
            _set_alpha(value, real, imag)


# Templates are kept for the process: the basic launcher's jobs and a sweep's populations of the
# same architecture, budget and approach share one (building and saving one costs ~0.2 s). A
# reset drops them (the next run builds its template again).
_TEMPLATES: State[dict[tuple, _Template]] = State("engine.population.export.templates", dict)
_MAX_TEMPLATES = 64


class RunFiles:
    """Writes each run's three artifacts into a folder of its own, from one template per
    approach (and training budget) of the runs' shared architecture."""

    def __init__(self, input_shape: tuple, has_imag: bool):
        self.input_shape, self.has_imag = input_shape, has_imag

    def template(self, spec: RunSpec, total_steps: int) -> _Template:
        """The single-run model file of ``spec``'s approach (made once per process)."""
        key = (
            spec.approach,
            spec.formula.name,
            repr(sorted(spec.formula.kwargs.items())),
            repr(spec.model),
            spec.train,
            total_steps,
            self.input_shape,
            self.has_imag,
        )
        templates = _TEMPLATES.get()
        if key not in templates:
            if len(templates) >= _MAX_TEMPLATES:
                templates.pop(next(iter(templates)))
            templates[key] = _Template(spec, self.input_shape, self.has_imag, total_steps)
        return templates[key]

    def write(
        self, folder: Path, spec: RunSpec, total_steps: int, outcome, model: bool = True
    ) -> None:
        """config.yaml, weights.json and (unless ``model`` is False: a sweep's grid job, whose
        model is built on request from those two) model.keras of one run into ``folder`` (and
        a refit's ``test_losses.json``)."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / names.CONFIG).write_text(config_yaml(spec))
        weights = outcome.weights
        listed = {name: np.asarray(value).tolist() for name, value in weights.items()}
        (folder / names.WEIGHTS).write_text(json.dumps(listed, separators=(",", ":")))
        if model:
            values = list(weights.values()) + list(outcome.optimizer)
            self.template(spec, total_steps).write(folder / names.MODEL, spec.alpha, values)
        if outcome.test_rows is not None:  # a refit: the verdict pairs its test rows
            (folder / names.TEST_ROWS).write_text(json.dumps(outcome.test_rows))
