"""Each member's artifacts, as its single run leaves them: ``config.yaml``, ``weights.json`` and
``model.keras`` holding the member alone, as the ordinary single-run model.

Saving a Keras model costs tens of milliseconds, too much for thousands of members. So the
single-run model of each approach is built and saved once, as a template; a member's file is that
template with its alpha written into the config and its weights into the weights file, whose
datasets are found once by filling every weight with a distinct value.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from alphalab.config.spec import RunSpec
from alphalab.engine.record import config_yaml
from alphalab.model.build import ALPHA_LAYER, build
from alphalab.model.compile import compile_for_training
from alphalab.tracking import names

_ALPHA_CLASSES = ("Lambda", "ComplexAlpha")
_MARK = 1000.0  # weight i of a template is filled with _MARK + i to find its dataset


class _Template:
    """One approach's single-run ``model.keras``, and where each weight sits in it."""

    def __init__(self, spec: RunSpec, input_shape: tuple, has_imag: bool, total_steps: int):
        import h5py
        from keras import ops

        model, _ = build(spec.approach, spec.formula, spec.alpha, spec.model, input_shape, has_imag)
        compile_for_training(model, spec.train, has_imag, total_steps)
        for i, weight in enumerate(model.weights):
            weight.assign(ops.full(weight.shape, _MARK + i, dtype=weight.dtype))
        with tempfile.TemporaryDirectory(prefix="alphalab-template-") as tmp:
            model.save(Path(tmp) / names.MODEL)
            with zipfile.ZipFile(Path(tmp) / names.MODEL) as archive:
                self.files = {name: archive.read(name) for name in archive.namelist()}
        self.config = json.loads(self.files["config.json"])
        self.paths = paths = [weight.path for weight in model.weights]
        self.datasets: dict[str, str] = {}
        with h5py.File(io.BytesIO(self.files["model.weights.h5"]), "r") as h5:

            def find(name, item):
                if isinstance(item, h5py.Dataset) and item.size:
                    first = float(np.asarray(item).ravel()[0])
                    index = round(first - _MARK)
                    if 0 <= index < len(paths) and first == _MARK + index:
                        self.datasets[paths[index]] = name

            h5.visititems(find)
        if len(self.datasets) != len(paths):
            raise RuntimeError("could not locate every weight in the saved model")

    def write(self, path: Path, alpha: tuple[float, float], weights: dict[str, np.ndarray]):
        """The member's model.keras: the template with its alpha and weights."""
        import h5py

        config = json.loads(json.dumps(self.config))
        _set_alpha(config, float(alpha[0]), float(alpha[1]))
        buffer = io.BytesIO(self.files["model.weights.h5"])
        with h5py.File(buffer, "r+") as h5:
            for weight_path, value in weights.items():
                h5[self.datasets[weight_path]][...] = value
        with zipfile.ZipFile(path, "w") as archive:  # as Keras writes it: stored, this order
            for name, content in self.files.items():
                if name == "config.json":
                    content = json.dumps(config).encode()
                elif name == "model.weights.h5":
                    content = buffer.getvalue()
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


class MemberFiles:
    """Writes every member's three artifacts into a folder of its own."""

    def __init__(self, input_shape: tuple, has_imag: bool, total_steps: int):
        self.input_shape, self.has_imag, self.total_steps = input_shape, has_imag, total_steps
        self.templates: dict[str, _Template] = {}

    def template(self, spec: RunSpec) -> _Template:
        """The single-run model file of ``spec``'s approach (made once)."""
        if spec.approach not in self.templates:
            made = _Template(spec, self.input_shape, self.has_imag, self.total_steps)
            self.templates[spec.approach] = made
        return self.templates[spec.approach]

    def paths(self, members: list[RunSpec]) -> dict[str, list[str]]:
        """Per approach, the weight paths of its single-run model, in its order."""
        return {spec.approach: self.template(spec).paths for spec in members}

    def write(self, folder: Path, spec: RunSpec, weights: dict[str, np.ndarray]) -> None:
        """config.yaml, weights.json and model.keras of one member into ``folder``."""
        template = self.template(spec)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / names.CONFIG).write_text(config_yaml(spec))
        listed = {name: np.asarray(value).tolist() for name, value in weights.items()}
        (folder / names.WEIGHTS).write_text(json.dumps(listed, indent=2))
        template.write(folder / names.MODEL, spec.alpha, weights)
