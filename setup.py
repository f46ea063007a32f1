"""Installation of brian2learn.

The top-level folders of this repository are installed under the one import name
``brian2learn`` (``brian2learn.models`` is ``models/``, and so on); ``benchmarks/`` and
``tests/`` are not installed.
"""

from setuptools import setup

SUBPACKAGES = ["simulation", "analysis", "models", "tasks", "plasticity", "training", "export", "studies"]

setup(
    name="brian2learn",
    version="0.1.0",
    description="Learning in recurrent spiking networks with Brian2",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.12",
    packages=["brian2learn"] + [f"brian2learn.{name}" for name in SUBPACKAGES],
    package_dir={"brian2learn": "brian2learn", **{f"brian2learn.{name}": name for name in SUBPACKAGES}},
    install_requires=[
        "brian2>=2.10.1",
        "numpy",
        "scipy",
        "pandas",
        "pyarrow",
        "networkx",
        "matplotlib",
        "cython",
        "dask[distributed]>=2026.8.0",
        "tqdm",
        "scikit-learn",  # the 8x8 digits (tasks/digits.py) ship with it
    ],
    extras_require={
        "test": ["pytest", "pytest-xdist", "ruff", "neo", "elephant", "nest-simulator>=3.10,<3.11", "gymnasium"],
        "bptt": ["jax"],
        "neo": ["neo", "elephant"],
        "nest": ["nest-simulator>=3.10,<3.11"],
    },
    package_data={"brian2learn.tasks": ["data/qtdb/*.mat", "data/qtdb/PROVENANCE.md"]},
    entry_points={"console_scripts": ["brian2learn = brian2learn.studies.cli:main"]},
)
