"""The canonical sweep files, shipped with toyneg as package data (`toyneg.sweeps`).

`python -m toyneg.sweep NAME` resolves a bare NAME to NAME.toml here, so an installed toyneg
(wheel or editable) runs the canonical sweeps from any folder; see docs/sweeps.md."""
